//! The relay against real sockets. Times are only ever checked from below: a link cannot
//! deliver sooner than its delay, however loaded the machine.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use super::*;

const MS: Duration = Duration::from_millis(1);

/// Echoes every connection's bytes back.
fn echo_server() -> SocketAddr {
    serve(|mut conn| {
        let mut buf = [0; 8192];
        while let Ok(n @ 1..) = conn.read(&mut buf) {
            if conn.write_all(&buf[..n]).is_err() {
                return;
            }
        }
    })
}

/// Sends `len` patterned bytes on every connection, then holds it open until the client
/// leaves.
fn talker(len: usize) -> SocketAddr {
    serve(move |mut conn| {
        let _ = conn.write_all(&pattern(len));
        let _ = conn.read(&mut [0; 1]);
    })
}

fn serve(handle: impl Fn(TcpStream) + Send + Sync + Copy + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            thread::spawn(move || handle(conn));
        }
    });
    addr
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

fn relay_to(target: SocketAddr, state: LinkState) -> Relay {
    Relay::start(vec![LinkSpec {
        name: "link".into(),
        listen: "127.0.0.1:0".parse().unwrap(),
        target,
        state,
    }])
    .unwrap()
}

fn connect(relay: &Relay) -> TcpStream {
    let conn = TcpStream::connect(relay.addr("link").unwrap()).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    conn
}

fn round_trip(conn: &mut TcpStream, message: &[u8]) -> Vec<u8> {
    conn.write_all(message).unwrap();
    let mut back = vec![0; message.len()];
    conn.read_exact(&mut back).unwrap();
    back
}

/// What a read that should find nothing (a stall, a black hole) finds in `wait`.
fn read_nothing_for(conn: &mut TcpStream, wait: Duration) -> std::io::Result<usize> {
    conn.set_read_timeout(Some(wait)).unwrap();
    conn.read(&mut [0; 1024])
}

fn is_silence(read: &std::io::Result<usize>) -> bool {
    matches!(read, Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut))
}

#[test]
fn the_round_trip_is_delayed_and_a_large_stream_arrives_intact_under_jitter() {
    let relay = relay_to(echo_server(), LinkState::round_trip(80 * MS, 10 * MS));
    let sent = Instant::now();
    let mut conn = connect(&relay);
    assert_eq!(round_trip(&mut conn, b"x"), b"x");
    // The handshake's 80 ms, then 40 ms each way at most 10 ms less each way.
    assert!(sent.elapsed() >= 140 * MS, "{:?}", sent.elapsed());
    let sent = Instant::now();
    assert_eq!(round_trip(&mut conn, b"y"), b"y");
    assert!(sent.elapsed() >= 60 * MS, "{:?}", sent.elapsed());

    let message = pattern(512 * 1024);
    let mut writer = conn.try_clone().unwrap();
    let outgoing = message.clone();
    let sending = thread::spawn(move || writer.write_all(&outgoing).unwrap());
    let mut back = vec![0; message.len()];
    conn.read_exact(&mut back).unwrap();
    sending.join().unwrap();
    assert!(back == message, "bytes reordered or lost");
}

#[test]
fn the_bandwidth_cap_paces_what_the_target_sends() {
    let mut state = LinkState::default();
    state.down.bytes_per_sec = Some(1_000_000);
    let relay = relay_to(talker(300_000), state);
    let mut conn = connect(&relay);
    let started = Instant::now();
    let mut got = vec![0; 300_000];
    conn.read_exact(&mut got).unwrap();
    assert!(got == pattern(300_000));
    // 300 kB at 1 MB/s.
    assert!(started.elapsed() >= 280 * MS, "{:?}", started.elapsed());
}

#[test]
fn a_stall_delivers_exactly_its_bytes_then_holds_the_connection_open() {
    let relay = relay_to(
        talker(10_000),
        LinkState {
            fault: Fault::StallAfter(4_000),
            ..LinkState::default()
        },
    );
    let mut conn = connect(&relay);
    let mut got = vec![0; 4_000];
    conn.read_exact(&mut got).unwrap();
    assert!(got == pattern(4_000));
    let more = read_nothing_for(&mut conn, 300 * MS);
    assert!(is_silence(&more), "{more:?}");
}

#[test]
fn on_an_open_connection_a_stall_counts_from_when_it_is_set() {
    let relay = relay_to(echo_server(), LinkState::default());
    let mut conn = connect(&relay);
    assert_eq!(
        round_trip(&mut conn, b"already carried"),
        b"already carried"
    );
    relay.set_fault("link", Fault::StallAfter(3)).unwrap();
    conn.write_all(b"abcdef").unwrap();
    let mut got = [0; 3];
    conn.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"abc");
    assert!(is_silence(&read_nothing_for(&mut conn, 200 * MS)));
    relay.set_fault("link", Fault::None).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(round_trip(&mut conn, b"xyz"), b"xyz");
}

#[test]
fn a_reset_resets_open_and_new_connections_until_it_is_lifted() {
    let relay = relay_to(echo_server(), LinkState::default());
    let mut open = connect(&relay);
    assert_eq!(round_trip(&mut open, b"before"), b"before");

    relay.set_fault("link", Fault::Reset).unwrap();
    let read = open.read(&mut [0; 16]);
    assert!(
        matches!(&read, Err(e) if e.kind() == ErrorKind::ConnectionReset),
        "{read:?}"
    );
    let read = connect(&relay).read(&mut [0; 16]);
    assert!(
        matches!(&read, Err(e) if e.kind() == ErrorKind::ConnectionReset),
        "{read:?}"
    );

    relay.set_fault("link", Fault::None).unwrap();
    assert_eq!(round_trip(&mut connect(&relay), b"after"), b"after");
}

#[test]
fn a_black_hole_swallows_both_ways_until_it_is_lifted() {
    let relay = relay_to(echo_server(), LinkState::default());
    let mut open = connect(&relay);
    relay.set_fault("link", Fault::BlackHole).unwrap();
    open.write_all(b"lost").unwrap();
    let read = read_nothing_for(&mut open, 300 * MS);
    assert!(is_silence(&read), "{read:?}");
    let mut new = connect(&relay);
    new.write_all(b"lost too").unwrap();
    let read = read_nothing_for(&mut new, 300 * MS);
    assert!(is_silence(&read), "{read:?}");

    relay.set_fault("link", Fault::None).unwrap();
    assert_eq!(round_trip(&mut connect(&relay), b"back"), b"back");
}

#[test]
fn a_refused_target_is_passed_on_as_a_reset() {
    let nobody = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let relay = relay_to(nobody, LinkState::default());
    let read = connect(&relay).read(&mut [0; 16]);
    assert!(
        matches!(&read, Err(e) if e.kind() == ErrorKind::ConnectionReset),
        "{read:?}"
    );
}

#[test]
fn links_are_named_once_and_looked_up_by_name() {
    let target = echo_server();
    let spec = |name: &str| LinkSpec {
        name: name.into(),
        listen: "127.0.0.1:0".parse().unwrap(),
        target,
        state: LinkState::default(),
    };
    assert!(Relay::start(vec![spec("a"), spec("a")]).is_err());
    let relay = Relay::start(vec![spec("a"), spec("b")]).unwrap();
    assert_ne!(relay.addr("a").unwrap(), relay.addr("b").unwrap());
    assert!(relay.addr("c").is_err());
    let slow = LinkState::round_trip(100 * MS, MS);
    relay.set("b", slow).unwrap();
    assert_eq!(relay.state("b").unwrap(), slow);
}

#[test]
fn another_process_changes_a_link_through_the_control_port() {
    let relay = relay_to(echo_server(), LinkState::default());
    let control = Control(relay.serve_control("127.0.0.1:0".parse().unwrap()).unwrap());
    let mut conn = connect(&relay);
    assert_eq!(round_trip(&mut conn, b"before"), b"before");

    control.set_fault("link", Fault::BlackHole).unwrap();
    assert_eq!(relay.state("link").unwrap().fault, Fault::BlackHole);
    conn.write_all(b"lost").unwrap();
    assert!(is_silence(&read_nothing_for(&mut conn, 200 * MS)));

    let slow = LinkState::round_trip(60 * MS, Duration::ZERO);
    control.set("link", slow).unwrap();
    assert_eq!(control.state("link").unwrap(), slow);
    let links = control.links().unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].listen, relay.addr("link").unwrap());

    let err = control.set_fault("nowhere", Fault::Reset).unwrap_err();
    assert!(
        format!("{err:#}").contains("no relay link named nowhere"),
        "{err:#}"
    );
}

#[test]
fn a_daemon_config_reads_durations_as_text() {
    let config: DaemonConfig = serde_json::from_str(
        r#"{"control": "127.0.0.1:1", "links": [{"name": "l", "listen": "127.0.0.1:2",
            "target": "127.0.0.1:3", "state": {"up": {"delay": "45ms"}, "fault": {"stall_after": 10}}}]}"#,
    )
    .unwrap();
    let state = config.links[0].state;
    assert_eq!(state.up.delay, 45 * MS);
    assert_eq!(state.down, Shape::default());
    assert_eq!(state.fault, Fault::StallAfter(10));
}
