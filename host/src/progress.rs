//! Progress of a sync: a spinner per connection counting users on a terminal, nothing otherwise
//! (the line each connection prints when it finishes is the plain-text progress).

use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::output::Ui;

/// The bars of one command.
#[derive(Debug, Clone)]
pub struct Progress {
    bars: Option<MultiProgress>,
    ui: Ui,
}

impl Progress {
    /// Bars on stderr when it is a terminal and output is not quiet.
    pub fn new(ui: Ui) -> Self {
        let visible = !ui.quiet && std::io::stderr().is_terminal();
        let bars = visible.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Self { bars, ui }
    }

    /// A spinner for one connection (a hidden one when there are no bars).
    pub fn connection(&self, name: &str) -> ProgressBar {
        let Some(bars) = &self.bars else { return ProgressBar::hidden() };
        let bar = bars.add(ProgressBar::new_spinner());
        let style = ProgressStyle::with_template("{spinner} {prefix}: {human_pos} users ({elapsed}) {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        bar.set_prefix(name.to_owned());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    }

    /// Prints a line above the bars, or as a plain line when there are none.
    pub fn println(&self, line: &str) {
        match &self.bars {
            Some(bars) => {
                if bars.println(line).is_err() {
                    self.ui.status(line);
                }
            }
            None => self.ui.status(line),
        }
    }
}
