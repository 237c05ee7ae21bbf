//! Colour for a person at a terminal, and for nobody else: never in a file or a pipe, never with
//! `NO_COLOR` set (no-color.org) or `TERM=dumb`. The one place that decides, for the commands'
//! output and the node's own logs alike.

use std::io::IsTerminal;
use std::sync::OnceLock;

/// Whether text written to `stream` may carry colour.
pub fn colour_on(stream: &impl IsTerminal) -> bool {
    stream.is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
}

/// How urgent a piece of text is.
#[derive(Clone, Copy)]
pub enum Tone {
    /// Overdue, down, a FLASH: bold red.
    Alarm,
    /// A warning, something presumed: yellow.
    Warn,
    /// Up, done: green.
    Good,
}

/// `text` in `tone` when standard output takes colour, else as it is. Pad before painting: the
/// escape codes have no width on screen but count in `{:<N}`.
pub fn paint(text: &str, tone: Tone) -> String {
    static ON: OnceLock<bool> = OnceLock::new();
    if !*ON.get_or_init(|| colour_on(&std::io::stdout())) {
        return text.to_string();
    }
    let code = match tone {
        Tone::Alarm => "1;31",
        Tone::Warn => "33",
        Tone::Good => "32",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}
