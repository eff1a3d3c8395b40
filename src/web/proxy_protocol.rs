//! `-httpListenAddr.useProxyProtocol`: the PROXY protocol header (v1 text and v2
//! binary, HAProxy's spec) that load balancers put before the client's bytes to tell the
//! client's address. With the flag set, every connection must start with one.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::AsyncReadExt as _;
use tokio::net::TcpStream;

/// v2's fixed signature.
const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// v1 lines are at most this long, CRLF included.
const V1_MAX: usize = 107;
/// A header must arrive within this time.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// A complete header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Bytes the header takes at the start of the stream.
    pub len: usize,
    /// The client's address, when the proxy tells one (not for `UNKNOWN`/`LOCAL`).
    pub source: Option<SocketAddr>,
}

/// Why the bytes are not (yet) a header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    #[error("incomplete PROXY header")]
    Incomplete,
    #[error("invalid PROXY header: {0}")]
    Invalid(&'static str),
}

/// Parses the header at the start of `buf`.
pub fn parse(buf: &[u8]) -> Result<Header, ProxyError> {
    if buf.len() < V2_SIGNATURE.len() {
        let is_prefix =
            V2_SIGNATURE.starts_with(buf) || b"PROXY ".starts_with(&buf[..buf.len().min(6)]);
        return Err(if is_prefix {
            ProxyError::Incomplete
        } else {
            ProxyError::Invalid("neither a v1 nor a v2 signature")
        });
    }
    if buf.starts_with(&V2_SIGNATURE) {
        parse_v2(buf)
    } else if buf.starts_with(b"PROXY ") {
        parse_v1(buf)
    } else {
        Err(ProxyError::Invalid("neither a v1 nor a v2 signature"))
    }
}

fn parse_v1(buf: &[u8]) -> Result<Header, ProxyError> {
    let Some(end) = buf.windows(2).take(V1_MAX - 1).position(|w| w == b"\r\n") else {
        return Err(if buf.len() >= V1_MAX {
            ProxyError::Invalid("v1 line longer than 107 bytes")
        } else {
            ProxyError::Incomplete
        });
    };
    let line = std::str::from_utf8(&buf[6..end])
        .map_err(|_| ProxyError::Invalid("v1 line is not text"))?;
    let len = end + 2;
    let parts: Vec<&str> = line.split(' ').collect();
    match parts.as_slice() {
        ["UNKNOWN", ..] => Ok(Header { len, source: None }),
        [proto @ ("TCP4" | "TCP6"), src, _dst, sport, _dport] => {
            let ip: IpAddr = src
                .parse()
                .map_err(|_| ProxyError::Invalid("v1 source address"))?;
            if ip.is_ipv4() != (*proto == "TCP4") {
                return Err(ProxyError::Invalid(
                    "v1 address does not match its protocol",
                ));
            }
            let port = parse_port(sport)?;
            Ok(Header {
                len,
                source: Some(SocketAddr::new(ip, port)),
            })
        }
        _ => Err(ProxyError::Invalid(
            "v1 line is not PROXY TCP4|TCP6|UNKNOWN src dst sport dport",
        )),
    }
}

fn parse_port(s: &str) -> Result<u16, ProxyError> {
    if s.is_empty()
        || s.len() > 5
        || !s.bytes().all(|b| b.is_ascii_digit())
        || (s.len() > 1 && s.starts_with('0'))
    {
        return Err(ProxyError::Invalid("v1 port"));
    }
    s.parse().map_err(|_| ProxyError::Invalid("v1 port"))
}

fn parse_v2(buf: &[u8]) -> Result<Header, ProxyError> {
    if buf.len() < 16 {
        return Err(ProxyError::Incomplete);
    }
    let (version, command) = (buf[12] >> 4, buf[12] & 0x0f);
    if version != 2 {
        return Err(ProxyError::Invalid("v2 version nibble is not 2"));
    }
    let body_len = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    let len = 16 + body_len;
    if buf.len() < len {
        return Err(ProxyError::Incomplete);
    }
    let body = &buf[16..len];
    let source = match command {
        0 => None, // LOCAL: the proxy's own connection (health checks).
        1 => v2_source(buf[13], body)?,
        _ => return Err(ProxyError::Invalid("v2 command is neither LOCAL nor PROXY")),
    };
    Ok(Header { len, source })
}

fn v2_source(family: u8, body: &[u8]) -> Result<Option<SocketAddr>, ProxyError> {
    let short = ProxyError::Invalid("v2 address block shorter than its family needs");
    match family >> 4 {
        0 => Ok(None), // AF_UNSPEC
        1 => {
            let a: [u8; 12] = body
                .get(..12)
                .ok_or(short)?
                .try_into()
                .map_err(|_| ProxyError::Incomplete)?;
            let ip = Ipv4Addr::new(a[0], a[1], a[2], a[3]);
            Ok(Some(SocketAddr::new(
                ip.into(),
                u16::from_be_bytes([a[8], a[9]]),
            )))
        }
        2 => {
            let a: [u8; 36] = body
                .get(..36)
                .ok_or(short)?
                .try_into()
                .map_err(|_| ProxyError::Incomplete)?;
            let mut ip = [0u8; 16];
            ip.copy_from_slice(&a[..16]);
            let port = u16::from_be_bytes([a[32], a[33]]);
            Ok(Some(SocketAddr::new(Ipv6Addr::from(ip).into(), port)))
        }
        3 => Ok(None), // AF_UNIX: no address worth telling.
        _ => Err(ProxyError::Invalid("v2 address family unknown")),
    }
}

/// Reads the header off `stream`, leaving the client's first byte next, within
/// [`HEADER_TIMEOUT`]. Peeks first so that nothing past the header is consumed.
pub async fn read_header(stream: &mut TcpStream) -> Result<Header, ProxyError> {
    let deadline = tokio::time::Instant::now() + HEADER_TIMEOUT;
    let mut buf = vec![0u8; 16 + 536];
    loop {
        let n = tokio::time::timeout_at(deadline, stream.peek(&mut buf))
            .await
            .map_err(|_| ProxyError::Invalid("no complete header within 5s"))?
            .map_err(|_| ProxyError::Invalid("connection failed while reading it"))?;
        if n == 0 {
            return Err(ProxyError::Invalid("connection closed before a header"));
        }
        match parse(&buf[..n]) {
            Ok(h) => {
                let mut skip = vec![0u8; h.len];
                stream
                    .read_exact(&mut skip)
                    .await
                    .map_err(|_| ProxyError::Invalid("connection failed while reading it"))?;
                return Ok(h);
            }
            Err(ProxyError::Incomplete) if n < buf.len() => {
                // More is on its way; peeking again at once would spin.
                tokio::time::sleep(Duration::from_millis(5)).await;
                if tokio::time::Instant::now() >= deadline {
                    return Err(ProxyError::Invalid("no complete header within 5s"));
                }
            }
            Err(ProxyError::Incomplete) => return Err(ProxyError::Invalid("v2 header too long")),
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2(command: u8, family: u8, body: &[u8]) -> Vec<u8> {
        let mut b = V2_SIGNATURE.to_vec();
        b.push(0x20 | command);
        b.push(family);
        b.extend_from_slice(&(body.len() as u16).to_be_bytes());
        b.extend_from_slice(body);
        b
    }

    #[test]
    fn v1_tcp4_tcp6_unknown() {
        let h = parse(b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET / HTTP/1.1").unwrap();
        assert_eq!(h.len, 45);
        assert_eq!(h.source, Some("192.0.2.1:56324".parse().unwrap()));
        let h = parse(b"PROXY TCP6 2001:db8::1 2001:db8::2 4000 80\r\n").unwrap();
        assert_eq!(h.source, Some("[2001:db8::1]:4000".parse().unwrap()));
        let h = parse(b"PROXY UNKNOWN ffff:f...f:ffff 4 5 6\r\nx").unwrap();
        assert_eq!((h.len, h.source), (37, None));
    }

    #[test]
    fn v1_malformed() {
        for bad in [
            &b"PROXY TCP4 192.0.2.1 198.51.100.2 56324\r\n"[..],
            b"PROXY TCP4 2001:db8::1 198.51.100.2 1 2\r\n",
            b"PROXY TCP4 192.0.2.1 198.51.100.2 99999 2\r\n",
            b"PROXY TCP4 192.0.2.1 198.51.100.2 -1 2\r\n",
            b"PROXY UDP4 192.0.2.1 198.51.100.2 1 2\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        ] {
            assert!(
                matches!(parse(bad), Err(ProxyError::Invalid(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let long = format!("PROXY TCP4 {}\r\n", "1".repeat(120));
        assert!(matches!(
            parse(long.as_bytes()),
            Err(ProxyError::Invalid(_))
        ));
        assert_eq!(
            parse(b"PROXY TCP4 192.0.2.1 19"),
            Err(ProxyError::Incomplete)
        );
        assert_eq!(parse(b"PROX"), Err(ProxyError::Incomplete));
    }

    #[test]
    fn v2_ipv4_ipv6_local_and_tlvs() {
        let mut body = vec![10, 0, 0, 7, 10, 0, 0, 1];
        body.extend_from_slice(&51000u16.to_be_bytes());
        body.extend_from_slice(&8880u16.to_be_bytes());
        body.extend_from_slice(&[0x04, 0x00, 0x01, 0xaa]); // a TLV, ignored
        let mut b = v2(1, 0x11, &body);
        let header_len = b.len();
        b.extend_from_slice(b"GET /");
        let h = parse(&b).unwrap();
        assert_eq!(h.len, header_len);
        assert_eq!(h.source, Some("10.0.0.7:51000".parse().unwrap()));

        let mut body6 = vec![0u8; 36];
        body6[15] = 1;
        body6[32..34].copy_from_slice(&443u16.to_be_bytes());
        let h = parse(&v2(1, 0x21, &body6)).unwrap();
        assert_eq!(h.source, Some("[::1]:443".parse().unwrap()));

        assert_eq!(parse(&v2(0, 0x00, &[])).unwrap().source, None);
    }

    #[test]
    fn v2_malformed_and_incomplete() {
        let full = v2(1, 0x11, &[1; 12]);
        assert_eq!(parse(&full[..20]), Err(ProxyError::Incomplete));
        assert_eq!(parse(&full[..14]), Err(ProxyError::Incomplete));
        assert!(matches!(
            parse(&v2(1, 0x11, &[1; 4])),
            Err(ProxyError::Invalid(_))
        ));
        assert!(matches!(
            parse(&v2(2, 0x11, &[1; 12])),
            Err(ProxyError::Invalid(_))
        ));
        let mut wrong_version = full.clone();
        wrong_version[12] = 0x11;
        assert!(matches!(parse(&wrong_version), Err(ProxyError::Invalid(_))));
        assert!(matches!(
            parse(&v2(1, 0x51, &[1; 12])),
            Err(ProxyError::Invalid(_))
        ));
    }
}
