//! A clap error as the one line every failure of the binary prints: clap's
//! own text (what is wrong, the argument that is missing, the suggestion it
//! found) with its usage block left out, since `--help` shows that.

use std::process::ExitCode;

use clap::error::ErrorKind;

/// Prints a clap error as one line (help and version as they are).
pub fn report(e: clap::Error) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
        _ => {
            eprintln!(
                "aldebaran: error: {} (see --help)",
                one_line(&e.render().to_string())
            );
            ExitCode::from(2)
        }
    }
}

/// clap's rendered error on one line: the paragraphs before `Usage:` joined
/// by "; ", the lines within one (a list of missing arguments) by spaces.
fn one_line(text: &str) -> String {
    let mut paragraphs: Vec<String> = Vec::new();
    let mut current = String::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with("Usage:") || line.starts_with("For more information") {
            break;
        }
        if line.is_empty() {
            if !current.is_empty() {
                paragraphs.push(std::mem::take(&mut current));
            }
            continue;
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(line);
    }
    if !current.is_empty() {
        paragraphs.push(current);
    }
    let joined = paragraphs.join("; ");
    match joined.strip_prefix("error: ") {
        Some(rest) => rest.to_owned(),
        None if joined.is_empty() => "invalid arguments".to_owned(),
        None => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn keeps_the_missing_argument_and_the_tip_and_drops_the_usage() {
        let missing = "error: the following required arguments were not provided:\n  \
                       <FILE>\n\nUsage: aldebaran replay <FILE>\n\n\
                       For more information, try '--help'.\n";
        assert_eq!(
            one_line(missing),
            "the following required arguments were not provided: <FILE>"
        );
        let tip = "error: unexpected argument '--batch-event' found\n\n  \
                   tip: a similar argument exists: '--batch-events'\n\n\
                   Usage: aldebaran replay --batch-events <N> <FILE>\n\n\
                   For more information, try '--help'.\n";
        assert_eq!(
            one_line(tip),
            "unexpected argument '--batch-event' found; \
             tip: a similar argument exists: '--batch-events'"
        );
        assert_eq!(one_line(""), "invalid arguments");
    }
}
