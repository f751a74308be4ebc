//! Any bytes: `parse_line` never panics, and its verdict (the scanner's, when
//! the scanner takes the line) is the full parser's.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &[u8]| {
    if let Err(e) = ingest::parse::check_scanner(line) {
        panic!("{e}");
    }
});
