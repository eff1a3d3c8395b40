//! The shared DNS resolver (`tocsin::dns`) against a loopback DNS server: A, AAAA and
//! SRV answers, names without records told apart from failures (SERVFAIL, garbage,
//! silence, no server), which discovery needs to decide between dropping targets and
//! keeping them.

mod support;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use support::dns::{Answer, DnsServer, Record};
use tocsin::dns::{Family, Resolver, SrvTarget};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn resolver(server: &DnsServer) -> Resolver {
    Resolver::with_server(server.addr, Duration::from_millis(500)).unwrap()
}

#[tokio::test]
async fn answers_a_aaaa_and_srv() {
    let dns = DnsServer::start().await;
    dns.set(
        "am.test",
        Answer::Records(vec![
            Record::Ip(ip("127.0.0.2")),
            Record::Ip(ip("127.0.0.1")),
            Record::Ip(ip("::1")),
        ]),
    );
    dns.set(
        "_am._tcp.test",
        Answer::Records(vec![
            Record::Srv {
                port: 9094,
                target: "b.test.".into(),
            },
            Record::Srv {
                port: 9093,
                target: "a.test.".into(),
            },
        ]),
    );
    let r = resolver(&dns);
    assert_eq!(
        r.addresses("am.test", Family::V4).await.unwrap(),
        [ip("127.0.0.1"), ip("127.0.0.2")]
    );
    assert_eq!(
        r.addresses("am.test.", Family::V6).await.unwrap(),
        [ip("::1")]
    );
    assert_eq!(
        r.ips("am.test").await.unwrap(),
        [ip("127.0.0.1"), ip("127.0.0.2"), ip("::1")]
    );
    assert_eq!(
        r.srv("_am._tcp.test").await.unwrap(),
        [
            SrvTarget {
                host: "a.test".into(),
                port: 9093
            },
            SrvTarget {
                host: "b.test".into(),
                port: 9094
            },
        ]
    );
    // Asked again each time: nothing is cached.
    dns.set(
        "am.test",
        Answer::Records(vec![Record::Ip(ip("127.0.0.3"))]),
    );
    assert_eq!(
        r.addresses("am.test", Family::V4).await.unwrap(),
        [ip("127.0.0.3")]
    );
}

#[tokio::test]
async fn no_records_is_an_answer_failures_are_not() {
    let dns = DnsServer::start().await;
    let r = resolver(&dns);
    // NXDOMAIN, and a name that exists without records of the type asked.
    let e = r.addresses("gone.test", Family::V4).await.unwrap_err();
    assert!(e.is_no_records(), "{e}");
    dns.set("empty.test", Answer::Records(vec![Record::Ip(ip("::1"))]));
    let e = r.addresses("empty.test", Family::V4).await.unwrap_err();
    assert!(e.is_no_records(), "{e}");
    let e = r.srv("empty.test").await.unwrap_err();
    assert!(e.is_no_records(), "{e}");
    // Failures: nothing is known about the name.
    for (answer, what) in [
        (Answer::ServFail, "SERVFAIL"),
        (Answer::Garbage, "garbage"),
        (Answer::Silence, "silence"),
    ] {
        dns.set("broken.test", answer);
        let e = r.srv("broken.test").await.unwrap_err();
        assert!(!e.is_no_records(), "{what}: {e}");
        assert!(e.to_string().contains("\"broken.test\""), "{what}: {e}");
    }
    assert!(dns.asked("broken.test") >= 3);
}

#[tokio::test]
async fn a_server_that_is_not_there_fails() {
    // A port nothing listens on (bound, then released).
    let addr: SocketAddr = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap()
    };
    let r = Resolver::with_server(addr, Duration::from_millis(300)).unwrap();
    let e = r.addresses("am.test", Family::V4).await.unwrap_err();
    assert!(!e.is_no_records(), "{e}");
}
