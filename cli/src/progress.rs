//! Progress while `apply` runs: a bar per region on a terminal, plain lines (one per region as it ends) when stdout
//! is not one, nothing with `--json` (stdout holds the report alone).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use enablement::ProgressEvent;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How progress is shown.
pub enum Display {
    /// A bar per region, on the terminal.
    Bars { multi: MultiProgress, bars: Mutex<HashMap<String, (ProgressBar, usize)>> },
    /// A line per region as it ends.
    Lines,
    /// Nothing.
    Quiet,
}

impl Display {
    /// The display for this process's stdout.
    pub fn for_stdout(json: bool) -> Arc<Self> {
        Arc::new(if json {
            Self::Quiet
        } else if std::io::stdout().is_terminal() {
            Self::Bars { multi: MultiProgress::with_draw_target(ProgressDrawTarget::stdout()), bars: Mutex::default() }
        } else {
            Self::Lines
        })
    }

    /// The receiver to hand to a run.
    pub fn receiver(self: &Arc<Self>) -> Option<enablement::Progress> {
        if matches!(**self, Self::Quiet) {
            return None;
        }
        let display = self.clone();
        Some(Arc::new(move |event| display.show(event)))
    }

    fn show(&self, event: ProgressEvent<'_>) {
        match self {
            Self::Quiet => {}
            Self::Lines => {
                if let ProgressEvent::Finished { region, outcome } = event {
                    anstream::println!("{region}: {}", outcome.as_str());
                }
            }
            Self::Bars { multi, bars } => {
                let mut bars = bars.lock().unwrap_or_else(|e| e.into_inner());
                match event {
                    ProgressEvent::Started { region } => {
                        let bar = multi.add(ProgressBar::new_spinner());
                        let style = ProgressStyle::with_template("{spinner} {prefix:<16} {msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner());
                        bar.set_style(style);
                        bar.set_prefix(region.to_owned());
                        bar.set_message("reading");
                        bar.enable_steady_tick(Duration::from_millis(120));
                        bars.insert(region.to_owned(), (bar, 0));
                    }
                    ProgressEvent::Wrote { region, operation, ok } => {
                        if let Some((bar, writes)) = bars.get_mut(region) {
                            *writes += 1;
                            let failed = if ok { "" } else { " failed" };
                            bar.set_message(format!("{operation}{failed} ({writes} writes)"));
                        }
                    }
                    ProgressEvent::Finished { region, outcome } => match bars.get(region) {
                        Some((bar, writes)) => {
                            bar.finish_with_message(format!("{} ({writes} writes)", outcome.as_str()))
                        }
                        None => {
                            let _ = multi.println(format!("  {region:<16} {}", outcome.as_str()));
                        }
                    },
                }
            }
        }
    }

    /// Clears the bars, before the summary is printed.
    pub fn finish(&self) {
        if let Self::Bars { multi, .. } = self {
            let _ = multi.clear();
        }
    }
}
