mod common;
use common::*;

#[test]
fn namespace_is_private() {
    if !isolate("namespace_is_private") {
        return;
    }
    let links = run_ok("ip", &["-o", "link"]);
    assert_eq!(links.lines().count(), 1, "{links}");
    let l = Listener::start(&["--count", "1", "--bind", "127.0.0.1"]);
    let o = udpmsg(&["send", &format!("127.0.0.1:{}", l.port()), "hi"], b"");
    assert_eq!(o.code, 0);
    assert!(l.line().ends_with("hi"));
}
