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
