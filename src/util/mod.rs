//! Small pieces every layer uses: hex text, random numbers, and words for
//! I/O errors.

pub mod hex;
pub mod rng;
pub mod words;
