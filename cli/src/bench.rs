//! `harnessx bench evolution`: runs the evolution benchmark of `harnessx-evolve` and prints
//! what it wrote. The benchmark itself lives in `harnessx_evolve::bench`.

use harnessx_evolve::bench::{evolution, BenchArgs};

use crate::exit;
use crate::output;

pub fn bench_evolution(a: &BenchArgs, color: bool) -> u8 {
    match evolution(a) {
        Ok(text) => {
            output::stdout(&text);
            exit::OK
        }
        Err(e) => {
            output::error(e, color);
            exit::FAILED
        }
    }
}
