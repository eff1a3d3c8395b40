//! Progress bars: one per group and one overall, with rate and ETA. Hidden when
//! disabled or when stderr is not a terminal, so logs and CI output stay clean.

use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bars of one replay; cheap to clone.
#[derive(Clone)]
pub struct Progress {
    overall: ProgressBar,
    multi: Option<MultiProgress>,
}

impl Progress {
    /// `total` counts rule evaluations over all groups.
    pub fn new(enabled: bool, total: u64) -> Progress {
        let show = enabled && std::io::stderr().is_terminal();
        if !show {
            return Progress {
                overall: ProgressBar::hidden(),
                multi: None,
            };
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let overall = multi.add(ProgressBar::new(total));
        overall.set_style(style());
        overall.set_prefix("all groups");
        Progress {
            overall,
            multi: Some(multi),
        }
    }

    /// A bar for one group, counting its rules' evaluations.
    pub fn group(&self, name: &str, total: u64) -> GroupBar {
        let bar = match &self.multi {
            Some(m) => {
                let b = m.add(ProgressBar::new(total));
                b.set_style(style());
                b.set_prefix(name.to_string());
                b
            }
            None => ProgressBar::hidden(),
        };
        GroupBar {
            bar,
            overall: self.overall.clone(),
        }
    }

    pub fn finish(&self) {
        self.overall.finish();
    }
}

fn style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{prefix:>20.bold} [{bar:30}] {percent:>3}% {human_pos}/{human_len} evals {per_sec} ETA {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ")
}

/// A group's bar, which also advances the overall one.
#[derive(Clone)]
pub struct GroupBar {
    bar: ProgressBar,
    overall: ProgressBar,
}

impl GroupBar {
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
        self.overall.inc(n);
        if self.bar.length().is_some_and(|l| self.bar.position() >= l) {
            self.bar.finish();
        }
    }
}
