//! benches/empty.rs: the start-up floor for `udpmsg send` in scripts/bench.sh:
//! a Rust program that does nothing, linked like the release build
//! (dynamically, panic=abort). Whatever it costs over benches/oneshot.c is
//! the price of Rust's runtime and its shared libraries, not of udpmsg.
fn main() {}
