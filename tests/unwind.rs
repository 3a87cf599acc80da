//! build.rs links GCC's unwinder statically (libgcc_eh.a) instead of
//! loading libgcc_s.so.1: unwinding, catching and backtraces must still work
//! in everything linked with the library, as they do here.

// Linked for its native libraries (libgcc_eh), though nothing here calls it.
extern crate udpmsg;

#[test]
fn panics_unwind_and_are_caught() {
    let caught = std::panic::catch_unwind(|| panic!("boom"));
    let payload = caught.expect_err("the panic was caught");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
}

#[test]
fn backtraces_name_the_calling_function() {
    let trace = std::backtrace::Backtrace::force_capture().to_string();
    assert!(
        trace.contains("backtraces_name_the_calling_function"),
        "no frame for this test in:\n{trace}"
    );
}

#[test]
fn the_binary_does_not_load_libgcc_s_when_built_with_the_static_unwinder() {
    if option_env!("UDPMSG_STATIC_UNWIND").is_none() {
        eprintln!("build.rs did not link libgcc_eh.a here: nothing to check");
        return;
    }
    // What `ldd` does: the dynamic loader lists what it maps, runs nothing.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_udpmsg"))
        .env("LD_TRACE_LOADED_OBJECTS", "1")
        .output()
        .expect("run the binary under LD_TRACE_LOADED_OBJECTS");
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains("libc.so"), "no loader listing: {listed}");
    assert!(
        !listed.contains("libgcc_s"),
        "libgcc_s is loaded:\n{listed}"
    );
}
