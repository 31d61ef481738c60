//! A progress line on stderr for long transfers: shown only on a terminal
//! and never with `--json`, so scripts and logs stay clean.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

const REDRAW_EVERY: Duration = Duration::from_millis(100);
const WIDTH: u64 = 30;

pub struct Progress {
    label: &'static str,
    total: u64,
    done: u64,
    start: Instant,
    drawn: Option<Instant>,
    shown: bool,
}

impl Progress {
    pub fn new(label: &'static str, total: u64, json: bool) -> Self {
        Progress {
            label,
            total,
            done: 0,
            start: Instant::now(),
            drawn: None,
            shown: !json && std::io::stderr().is_terminal(),
        }
    }

    pub fn add(&mut self, n: u64) {
        self.done = self.done.saturating_add(n);
        if self.shown && self.drawn.is_none_or(|t| t.elapsed() >= REDRAW_EVERY) {
            self.draw();
        }
    }

    fn draw(&mut self) {
        self.drawn = Some(Instant::now());
        let frac = if self.total == 0 {
            1.0
        } else {
            self.done as f64 / self.total as f64
        };
        let filled = ((frac * WIDTH as f64) as u64).min(WIDTH);
        let bar: String = (0..WIDTH)
            .map(|i| if i < filled { '#' } else { '-' })
            .collect();
        let _ = write!(
            std::io::stderr(),
            "\r{:<10} [{bar}] {:>3.0}%  {} / {}  {}   ",
            self.label,
            frac * 100.0,
            human_bytes(self.done),
            human_bytes(self.total),
            rate(self.done, self.start.elapsed()),
        );
    }

    /// Ends the line; returns the time since the start.
    pub fn finish(mut self) -> Duration {
        if self.shown {
            self.draw();
            let _ = writeln!(std::io::stderr());
        }
        self.start.elapsed()
    }
}

/// `12.3 MiB`-style sizes.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Megabytes (10^6 bytes) per second, as storage benchmarks quote them.
pub fn mb_per_s(bytes: u64, took: Duration) -> f64 {
    let s = took.as_secs_f64();
    if s <= 0.0 {
        0.0
    } else {
        bytes as f64 / 1e6 / s
    }
}

fn rate(bytes: u64, took: Duration) -> String {
    format!("{:.1} MB/s", mb_per_s(bytes, took))
}
