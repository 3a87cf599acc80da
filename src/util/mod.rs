//! Small pieces every layer uses: hex text and random numbers.

pub mod hex;
pub mod rng;
