//! Progress bars for the evolution loop on standard error: one bar over the rounds whose
//! message is the current step. indicatif hides them when standard error is not a
//! terminal, so logs and tests stay clean.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::checkpoint::RoundRecord;
use crate::round::Observer;

/// One bar over the rounds; its message is the current step.
pub struct Bars {
    bar: ProgressBar,
}

impl Bars {
    pub fn new(rounds: u32) -> Bars {
        let bar = ProgressBar::with_draw_target(
            Some(u64::from(rounds)),
            ProgressDrawTarget::stderr(), // indicatif hides it when stderr is not a terminal
        );
        if let Ok(style) =
            ProgressStyle::with_template("{elapsed:>4} round {pos}/{len} [{bar:20}] {wide_msg}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        Bars { bar }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Observer for Bars {
    fn round_started(&mut self, round: u32, _rounds: u32) {
        self.bar.set_position(u64::from(round.saturating_sub(1)));
    }
    fn step(&mut self, what: &str) {
        self.bar.set_message(what.to_string());
    }
    fn round_finished(&mut self, r: &RoundRecord) {
        self.bar.set_position(u64::from(r.round));
        let what = match (&r.shipped, &r.stopped) {
            (Some(id), _) => format!("shipped {id}"),
            (None, Some(why)) => format!("stopped: {why}"),
            (None, None) => "nothing shipped".into(),
        };
        self.bar.println(format!(
            "round {}: parent train {:.3}, {}",
            r.round, r.parent_train, what
        ));
    }
}
