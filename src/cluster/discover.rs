//! Where the peers' addresses come from (`-cluster.peers`): DNS SRV or A/AAAA records
//! (a Kubernetes headless Service) or a file with one `host:port` per line.

use std::path::PathBuf;

use super::ClusterError;
use crate::dns::Resolver;

/// A parsed `-cluster.peers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerSource {
    /// `dns+srv://NAME`: every SRV target `host:port`.
    Srv { name: String },
    /// `dns+a://NAME:PORT`: every A/AAAA address of NAME, at PORT.
    A { name: String, port: u16 },
    /// `file://PATH`: one `host:port` per line; `#` starts a comment.
    File { path: PathBuf },
}

impl std::fmt::Display for PeerSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerSource::Srv { name } => write!(f, "dns+srv://{name}"),
            PeerSource::A { name, port } => write!(f, "dns+a://{name}:{port}"),
            PeerSource::File { path } => write!(f, "file://{}", path.display()),
        }
    }
}

impl PeerSource {
    pub fn parse(s: &str) -> Result<PeerSource, ClusterError> {
        let bad = |why: &str| {
            ClusterError::Flag(format!(
                "-cluster.peers={s:?}: {why}; use dns+srv://NAME, dns+a://NAME:PORT or file://PATH"
            ))
        };
        if let Some(name) = s.strip_prefix("dns+srv://") {
            if name.is_empty() || name.contains('/') {
                return Err(bad("no DNS name"));
            }
            return Ok(PeerSource::Srv { name: name.into() });
        }
        if let Some(rest) = s.strip_prefix("dns+a://") {
            let Some((name, port)) = rest.rsplit_once(':') else {
                return Err(bad("dns+a:// needs a port (the members' HTTP port)"));
            };
            let port = port.parse().map_err(|_| bad("the port is not a number"))?;
            if name.is_empty() {
                return Err(bad("no DNS name"));
            }
            return Ok(PeerSource::A {
                name: name.into(),
                port,
            });
        }
        if let Some(path) = s.strip_prefix("file://") {
            if path.is_empty() {
                return Err(bad("no file path"));
            }
            return Ok(PeerSource::File { path: path.into() });
        }
        Err(bad("unknown scheme"))
    }

    /// The peers' addresses (`host:port`), sorted and without duplicates.
    pub async fn resolve(&self, dns: Option<&Resolver>) -> Result<Vec<String>, ClusterError> {
        let mut out = match self {
            PeerSource::Srv { name } => dns_of(dns)?
                .srv(name)
                .await?
                .into_iter()
                .map(|t| join_host_port(&t.host, t.port))
                .collect(),
            PeerSource::A { name, port } => dns_of(dns)?
                .ips(name)
                .await?
                .into_iter()
                .map(|ip| join_host_port(&ip.to_string(), *port))
                .collect(),
            PeerSource::File { path } => {
                let p = path.clone();
                let text = tokio::task::spawn_blocking(move || std::fs::read_to_string(&p))
                    .await
                    .map_err(|e| ClusterError::Io {
                        path: path.clone(),
                        source: std::io::Error::other(e),
                    })?
                    .map_err(|source| ClusterError::Io {
                        path: path.clone(),
                        source,
                    })?;
                parse_peer_file(path, &text)?
            }
        };
        out.sort();
        out.dedup();
        Ok(out)
    }
}

fn dns_of(dns: Option<&Resolver>) -> Result<&Resolver, ClusterError> {
    dns.ok_or_else(|| ClusterError::Flag("no DNS resolver".into()))
}

/// `host:port`, with IPv6 addresses in brackets.
pub fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The lines of a `file://` peer list; a line that is not `host:port` is an error naming
/// the file and line (the previous member set is kept).
pub fn parse_peer_file(path: &std::path::Path, text: &str) -> Result<Vec<String>, ClusterError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let ok = line
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
        if !ok || line.contains(char::is_whitespace) || line.contains('/') {
            return Err(ClusterError::PeerFile {
                path: path.to_path_buf(),
                line: i + 1,
                text: line.to_string(),
            });
        }
        out.push(line.to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms() {
        assert_eq!(
            PeerSource::parse("dns+srv://_http._tcp.tocsin.monitoring.svc").ok(),
            Some(PeerSource::Srv {
                name: "_http._tcp.tocsin.monitoring.svc".into()
            })
        );
        assert_eq!(
            PeerSource::parse("dns+a://tocsin.monitoring.svc:8880").ok(),
            Some(PeerSource::A {
                name: "tocsin.monitoring.svc".into(),
                port: 8880
            })
        );
        assert_eq!(
            PeerSource::parse("file:///etc/tocsin/peers").ok(),
            Some(PeerSource::File {
                path: "/etc/tocsin/peers".into()
            })
        );
        for bad in ["dns+a://tocsin", "http://x", "dns+srv://", "file://"] {
            let e = PeerSource::parse(bad).unwrap_err().to_string();
            assert!(e.contains("-cluster.peers"), "{bad}: {e}");
        }
    }

    #[test]
    fn peer_file_lines() {
        let p = std::path::Path::new("/p");
        assert_eq!(
            parse_peer_file(p, "# members\n127.0.0.1:9000\n\n [::1]:9001 # me\n").ok(),
            Some(vec!["127.0.0.1:9000".to_string(), "[::1]:9001".to_string()])
        );
        let e = parse_peer_file(p, "a:1\nhttp://b:2\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("/p:2"), "{e}");
        assert_eq!(join_host_port("::1", 80), "[::1]:80");
        assert_eq!(join_host_port("10.0.0.1", 80), "10.0.0.1:80");
    }
}
