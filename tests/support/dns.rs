//! A loopback DNS server for discovery tests, written from RFC 1035 (and RFC 2782 for
//! SRV) without any DNS library, so that it does not share a decoder's mistakes with the
//! resolver under test. It answers over UDP from a zone the test changes while it runs:
//! A, AAAA and SRV records, NXDOMAIN for names it does not know, and on demand SERVFAIL,
//! garbage bytes or silence, and counts the questions it was asked.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::net::UdpSocket;

/// Record types the server knows.
pub const A: u16 = 1;
pub const AAAA: u16 = 28;
pub const SRV: u16 = 33;

/// What the server answers for one name.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// These records (an empty list: the name exists without records of that type).
    Records(Vec<Record>),
    /// RCODE 3: the name does not exist.
    NxDomain,
    /// RCODE 2: the server failed.
    ServFail,
    /// Bytes that are not a DNS message.
    Garbage,
    /// No answer at all (the client times out).
    Silence,
}

/// One record of an answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Ip(IpAddr),
    Srv { port: u16, target: String },
}

#[derive(Default)]
struct Zone {
    /// By lower-cased name without the trailing dot.
    names: HashMap<String, Answer>,
    asked: HashMap<String, usize>,
}

/// A running server; stops when dropped.
pub struct DnsServer {
    pub addr: SocketAddr,
    zone: Arc<Mutex<Zone>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl DnsServer {
    /// Binds 127.0.0.1 on a free port and serves until dropped.
    pub async fn start() -> DnsServer {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind DNS");
        let addr = socket.local_addr().unwrap();
        let zone = Arc::new(Mutex::new(Zone::default()));
        let z = zone.clone();
        let task = tokio::spawn(async move {
            let mut buf = [0u8; 1500];
            loop {
                let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                    return;
                };
                if let Some(reply) = respond(&z, &buf[..n]) {
                    let _ = socket.send_to(&reply, peer).await;
                }
            }
        });
        DnsServer { addr, zone, task }
    }

    /// What `name` answers from now on (for every record type).
    pub fn set(&self, name: &str, answer: Answer) {
        self.zone.lock().unwrap().names.insert(key(name), answer);
    }

    /// Forgets `name`: NXDOMAIN from now on.
    pub fn remove(&self, name: &str) {
        self.zone.lock().unwrap().names.remove(&key(name));
    }

    /// How many questions about `name` were asked so far.
    pub fn asked(&self, name: &str) -> usize {
        let z = self.zone.lock().unwrap();
        z.asked.get(&key(name)).copied().unwrap_or(0)
    }
}

/// The question of a query: its name (dotted, lower case), type, and where the question
/// section ends.
fn question(q: &[u8]) -> Option<(String, u16, usize)> {
    let mut i = 12;
    let mut labels = Vec::new();
    loop {
        let len = *q.get(i)? as usize;
        i += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(q.get(i..i + len)?).to_ascii_lowercase());
        i += len;
    }
    let qtype = u16::from_be_bytes([*q.get(i)?, *q.get(i + 1)?]);
    Some((labels.join("."), qtype, i + 4))
}

/// `name` as DNS labels.
fn encode_name(name: &str, out: &mut Vec<u8>) {
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
}

fn rdata(r: &Record, qtype: u16) -> Option<Vec<u8>> {
    match (r, qtype) {
        (Record::Ip(IpAddr::V4(ip)), A) => Some(ip.octets().to_vec()),
        (Record::Ip(IpAddr::V6(ip)), AAAA) => Some(ip.octets().to_vec()),
        (Record::Srv { port, target }, SRV) => {
            // Priority 10, weight 10, port, target.
            let mut d = vec![0, 10, 0, 10];
            d.extend_from_slice(&port.to_be_bytes());
            encode_name(target, &mut d);
            Some(d)
        }
        _ => None,
    }
}

fn respond(zone: &Mutex<Zone>, q: &[u8]) -> Option<Vec<u8>> {
    let (name, qtype, end) = question(q)?;
    let answer = {
        let mut z = zone.lock().unwrap();
        *z.asked.entry(name.clone()).or_default() += 1;
        z.names.get(&name).cloned().unwrap_or(Answer::NxDomain)
    };
    let (rcode, records) = match answer {
        Answer::Silence => return None,
        Answer::Garbage => return Some(b"\x01\x02not a DNS message at all".to_vec()),
        Answer::NxDomain => (3u8, Vec::new()),
        Answer::ServFail => (2, Vec::new()),
        Answer::Records(r) => (0, r.iter().filter_map(|r| rdata(r, qtype)).collect()),
    };
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(&q[0..2]); // the query's id
    // QR=1, the query's opcode and RD, AA=1; RA=1 and the response code.
    out.push(0x80 | (q[2] & 0x79) | 0x04);
    out.push(0x80 | rcode);
    out.extend_from_slice(&1u16.to_be_bytes()); // one question
    out.extend_from_slice(&(records.len() as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]); // no authority, no additional records
    out.extend_from_slice(&q[12..end]);
    for d in records {
        out.extend_from_slice(&[0xc0, 0x0c]); // the name: a pointer to the question's
        out.extend_from_slice(&qtype.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes()); // class IN
        out.extend_from_slice(&5u32.to_be_bytes()); // TTL
        out.extend_from_slice(&(d.len() as u16).to_be_bytes());
        out.extend_from_slice(&d);
    }
    Some(out)
}
