//! `aldebaran`: the command line. Parses, dispatches, prints; the work is in
//! the library crates.

mod broker_tls;
mod clap_error;
mod cli;
mod declare_cmd;
mod gen_cmd;
mod journal_cmd;
mod progress_bar;
mod publish_cmd;
mod replay_cmd;
mod route_cmd;
mod run_cmd;
mod status_cmd;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command, JournalCommand};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_error::report(e),
    };
    // The tools report failures in their one-line error; lapin's own error
    // logs (e.g. a refused login) would only repeat them.
    if !matches!(cli.command, Command::Run(_)) {
        init_tracing("warn,lapin=off");
    }
    let result = match cli.command {
        Command::Replay(args) => replay_cmd::run(args),
        Command::Run(args) => run_cmd::run(args),
        Command::Declare(args) => declare_cmd::run(args),
        Command::Publish(args) => publish_cmd::run(args),
        Command::Route(args) => route_cmd::run(args),
        Command::Gen(args) => gen_cmd::run(args),
        Command::Status(args) => status_cmd::run(args),
        Command::Journal {
            command: JournalCommand::Dump { dir },
        } => journal_cmd::dump(&dir),
        Command::Journal {
            command: JournalCommand::Verify { dir },
        } => journal_cmd::verify(&dir),
        Command::Journal {
            command:
                JournalCommand::Cursors {
                    dir,
                    reset: Some(sink),
                    to: Some(to),
                },
        } => journal_cmd::reset_cursor(&dir, &sink, to),
        Command::Journal {
            command: JournalCommand::Cursors { dir, .. },
        } => journal_cmd::cursors(&dir),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // One line, naming the problem: the whole cause chain, no backtrace.
            eprintln!("aldebaran: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Logs to stderr; `RUST_LOG` beats `default` (a tracing filter), below
/// the [`secrets_cap`] whatever either says.
pub fn init_tracing(default: &str) {
    use tracing_subscriber::{layer::SubscriberExt, util::SubscriberInitExt};
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(default))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::registry()
        .with(secrets_cap())
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .try_init();
}

/// A second filter, and-ed with the user's: lapin and amq-protocol log at
/// most at DEBUG. At TRACE lapin prints every frame it writes, the
/// connection's StartOk among them, whose SASL PLAIN response is the user
/// name and the password (as bytes); `RUST_LOG=trace` or `lapin=trace` must
/// not put the password in a log. Their DEBUG and above carry no frame.
fn secrets_cap() -> tracing_subscriber::filter::Targets {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_target("lapin", LevelFilter::DEBUG)
        // A prefix: amq_protocol_tcp, amq_protocol_uri, … too.
        .with_target("amq_protocol", LevelFilter::DEBUG)
}
