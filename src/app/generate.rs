//! `udpmsg completions` and `udpmsg man`: shell completion scripts and the
//! manual page, generated from the clap definition (so they never drift
//! from `--help`).

use super::write_stdout;
use crate::cli::{Cli, CompletionsArgs};
use crate::error::{Error, exit};
use clap_mangen::Man;
use clap_mangen::roff::{Roff, roman};

pub(super) fn completions(args: CompletionsArgs) -> Result<u8, Error> {
    let mut command = Cli::full_command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "udpmsg", &mut script);
    write_stdout(&String::from_utf8_lossy(&script))?;
    Ok(exit::OK)
}

pub(super) fn man() -> Result<u8, Error> {
    write_stdout(&manual_page())?;
    Ok(exit::OK)
}

/// The manual page: one page for the program and every subcommand (its
/// synopsis, options and examples), roff for `man -l -` or a `man1`
/// directory.
pub fn manual_page() -> String {
    let command = Cli::full_command();
    let main = Man::new(command.clone());
    let mut page = String::new();
    let render = |man: &Man, part: fn(&Man, &mut dyn std::io::Write) -> std::io::Result<()>| {
        let mut out = Vec::new();
        // Rendering into a Vec cannot fail.
        let _ = part(man, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    };
    // clap_mangen starts every part with the same preamble: keep the first.
    page.push_str(&render(&main, Man::render_title));
    for part in [
        Man::render_name_section,
        Man::render_synopsis_section,
        Man::render_description_section,
        Man::render_options_section,
    ] {
        page.push_str(from_first_section(&render(&main, part)));
    }
    page.push_str(".SH COMMANDS\n");
    // clap's own `help` subcommand only repeats --help.
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        let man = Man::new(sub.clone());
        let mut roff = Roff::new();
        let name = format!("udpmsg {}", sub.get_name());
        roff.control("SS", [name.as_str()]);
        if let Some(about) = sub.get_about() {
            roff.text([roman(about.to_string())]);
        }
        roff.control("PP", []);
        page.push_str(&roff.to_roff());
        page.push_str(after_section_heading(&render(
            &man,
            Man::render_synopsis_section,
        )));
        if sub.get_arguments().any(|a| !a.is_hide_set()) {
            page.push_str(after_section_heading(&render(
                &man,
                Man::render_options_section,
            )));
        }
        if let Some(text) = sub.get_after_help() {
            page.push_str(&text_with_examples(&text.to_string()).to_roff());
        }
    }
    if let Some(text) = command.get_after_help() {
        page.push_str(".SH DETAILS\n");
        page.push_str(&text_with_examples(&text.to_string()).to_roff());
    }
    page.push_str(from_first_section(&render(
        &main,
        Man::render_version_section,
    )));
    page
}

/// `roff` from its first `.SH` line on (without clap_mangen's preamble).
fn from_first_section(roff: &str) -> &str {
    roff.find("\n.SH ").map_or(roff, |at| &roff[at + 1..])
}

/// `roff` after its first `.SH` line: a section's body, to put under a
/// heading of our own.
fn after_section_heading(roff: &str) -> &str {
    let section = from_first_section(roff);
    section.split_once('\n').map_or("", |(_, body)| body)
}

/// Help text as roff: paragraphs filled, lines indented by two spaces
/// (examples) kept as they are, in an indented block.
fn text_with_examples(text: &str) -> Roff {
    let mut roff = Roff::new();
    let mut in_example = false;
    roff.control("PP", []);
    for line in text.lines() {
        let example = line.strip_prefix("  ");
        match (example, in_example) {
            (Some(_), false) => {
                roff.control("RS", ["4"]).control("nf", []);
                in_example = true;
            }
            (None, true) => {
                roff.control("fi", []).control("RE", []);
                in_example = false;
            }
            _ => {}
        }
        match example {
            Some(example) => roff.text([roman(example)]),
            None if line.trim().is_empty() => roff.control("PP", []),
            None => roff.text([roman(line)]),
        };
    }
    if in_example {
        roff.control("fi", []).control("RE", []);
    }
    roff
}
