//! Tests of sink config parsing.

use super::*;
use crate::delivery::test_fixtures::overfill_fields;

fn parse(name: &str, text: &str) -> Result<SinkConfig> {
    let table: toml::Table = toml::from_str(text).expect("toml");
    SinkConfig::from_toml(name, &table, &overfill_fields())
}

fn error(name: &str, text: &str) -> String {
    parse(name, text).expect_err("must fail").to_string()
}

#[test]
fn defaults_per_kind() {
    let file = parse("archive", "kind = \"file\"\npath = \"/tmp/a.jsonl\"").expect("file");
    assert_eq!(file.mode, DeliveryMode::ExactlyOnce);
    assert_eq!((file.retry_min_ms, file.retry_max_ms), (100, 30_000));
    assert_eq!(file.kind(), "file");
    let SinkSettings::File(f) = &file.settings else {
        panic!("file settings");
    };
    assert!(f.fsync);
    let out = parse("out", "kind = \"stdout\"").expect("stdout");
    assert_eq!(out.mode, DeliveryMode::AtLeastOnce);
    let cmd = parse(
        "page",
        "kind = \"command\"\ncommand = [\"notify\", \"-x\"]\nmode = \"at-most-once\"\nretry_min_ms = 5",
    )
    .expect("command");
    assert_eq!(cmd.mode, DeliveryMode::AtMostOnce);
    assert_eq!(cmd.retry_min_ms, 5);
    assert_eq!(
        (file.start, out.start),
        (StartFrom::Oldest, StartFrom::Oldest)
    );
    let late = parse("late", "kind = \"stdout\"\nstart = \"head\"").expect("start");
    assert_eq!(late.start, StartFrom::Head);
    let spec = late.shipper_spec(
        Path::new("/j"),
        Arc::new(crate::delivery::DurableHead::new(0)),
    );
    assert_eq!(spec.start, StartFrom::Head);
    let e = error("late", "kind = \"stdout\"\nstart = \"tail\"");
    assert!(e.contains("\"late\"") && e.contains("tail"), "{e}");
    let SinkSettings::Command(c) = &cmd.settings else {
        panic!("command settings");
    };
    assert_eq!((c.command.len(), c.timeout_ms), (2, 10_000));
}

#[test]
fn spec_paths() {
    let cfg = parse("out", "kind = \"stdout\"").expect("stdout");
    let spec = cfg.shipper_spec(
        Path::new("/j"),
        Arc::new(crate::delivery::DurableHead::new(0)),
    );
    assert_eq!(spec.dead_letter, Path::new("/j/cursors/out.dead.jsonl"));
    assert_eq!(spec.kind, "stdout");
    let cfg = parse("out", "kind = \"stdout\"\ndead_letter = \"/d.jsonl\"").expect("stdout");
    let spec = cfg.shipper_spec(
        Path::new("/j"),
        Arc::new(crate::delivery::DurableHead::new(0)),
    );
    assert_eq!(spec.dead_letter, Path::new("/d.jsonl"));
}

#[test]
fn errors_name_the_sink_and_the_problem() {
    let e = error("a", "kind = \"file\"\npath = \"x\"\nfsnyc = true");
    assert!(e.contains("\"a\"") && e.contains("fsnyc"), "{e}");
    let e = error("a", "path = \"x\"");
    assert!(e.contains("kind"), "{e}");
    let e = error("a", "kind = \"carrier-pigeon\"");
    assert!(
        e.contains("unknown kind") && e.contains("carrier-pigeon"),
        "{e}"
    );
    let e = error(
        "a",
        "kind = \"command\"\ncommand = [\"x\"]\nmode = \"exactly-once\"",
    );
    assert!(
        e.contains("cannot be exactly-once") && e.contains("at-least-once"),
        "{e}"
    );
    let e = error(
        "a",
        "kind = \"file\"\npath = \"x\"\nmode = \"at-least-once\"",
    );
    assert!(e.contains("always exactly-once"), "{e}");
    let e = error("a", "kind = \"stdout\"\nmode = \"exactly_once\"");
    assert!(e.contains("exactly_once"), "{e}");
    let e = error("a", "kind = \"file\"");
    assert!(e.contains("path"), "{e}");
    let e = error(
        "a",
        "kind = \"stdout\"\nretry_min_ms = 10\nretry_max_ms = 5",
    );
    assert!(e.contains("retry_min_ms"), "{e}");
    for bad in ["", "a b", "../x", "é"] {
        let e = error(bad, "kind = \"stdout\"");
        assert!(e.contains("[A-Za-z0-9_-]+"), "{e}");
    }
}

#[test]
fn sink_checks_run_at_parse() {
    let e = error("c", "kind = \"command\"\ncommand = []");
    assert!(e.contains("must name a program"), "{e}");
    let cfg = parse("c", "kind = \"command\"\ncommand = [\"true\"]").expect("parses");
    assert!(cfg.open_sink().is_ok());
}

#[test]
fn all_sinks_of_a_table() {
    let table: toml::Table =
        toml::from_str("[b]\nkind = \"stdout\"\n[a]\nkind = \"file\"\npath = \"p\"\n")
            .expect("toml");
    let all = SinkConfig::all_from_toml(&table, &overfill_fields()).expect("parse");
    let names: Vec<_> = all.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    let bad: toml::Table = toml::from_str("a = 1").expect("toml");
    assert!(SinkConfig::all_from_toml(&bad, &overfill_fields()).is_err());
}

#[test]
fn a_kind_built_without_its_feature_is_a_one_line_error() {
    for (kind, built) in [
        ("http", cfg!(feature = "http")),
        ("smtp", cfg!(feature = "smtp")),
        ("amqp", cfg!(feature = "amqp")),
    ] {
        assert!(OPTIONAL_KINDS.contains(&kind));
        let result = parse("bus", &format!("kind = {kind:?}"));
        if built {
            if let Err(e) = result {
                assert!(!e.to_string().contains("not built"), "{e}");
            }
        } else {
            assert_eq!(
                result.expect_err("compiled out").to_string(),
                format!(
                    "sink \"bus\": kind \"{kind}\" is not built into this binary \
                     (it was built without the cargo feature \"{kind}\")"
                )
            );
        }
    }
    #[cfg(feature = "http")]
    assert_eq!(http::KIND, "http");
    #[cfg(feature = "smtp")]
    assert_eq!(smtp::KIND, "smtp");
    #[cfg(feature = "amqp")]
    assert_eq!(amqp::KIND, "amqp");
}

#[test]
fn templates_are_checked_against_the_jobs_fields() {
    let page = "kind = \"command\"\ncommand = [\"true\"]\nenv = { WHO = \"{client} x{shares}\" }";
    assert_eq!(
        error("page", page),
        "sink \"page\": env.WHO: unknown placeholder {shares} in template \"{client} x{shares}\": \
         the configured jobs (overfill) have no field shares; known: seq, alert_id, kind, \
         order_id, client, stock, requested, filled, trigger_id, event_ts, detected_at"
    );
    // The sink built later is checked against the same fields.
    let ok = "kind = \"command\"\ncommand = [\"true\"]\nenv = { WHO = \"{client}\" }";
    assert!(parse("page", ok).expect("parses").open_sink().is_ok());
    // Without the overfill job, its fields are unknown.
    let table: toml::Table = toml::from_str(ok).expect("toml");
    let e = SinkConfig::from_toml("page", &table, &AlertFields::new())
        .expect_err("no job has client")
        .to_string();
    assert!(
        e.contains("the configured jobs (none) have no field client"),
        "{e}"
    );
}

#[cfg(feature = "http")]
#[test]
fn an_http_form_template_error_names_the_sink_and_the_key() {
    let sms = "kind = \"http\"\nurl = \"https://sms.example/send\"\nformat = \"form\"\n\
               form = { To = \"+1555\", Body = \"sold {shares}\" }";
    let e = error("sms", sms);
    assert!(
        e.starts_with(
            "sink \"sms\": form.Body: unknown placeholder {shares} in template \"sold {shares}\": \
             the configured jobs (overfill) have no field shares; known: seq, alert_id, kind, \
             order_id,"
        ),
        "{e}"
    );
}

#[cfg(feature = "smtp")]
#[test]
fn an_smtp_subject_template_error_names_the_sink_and_the_key() {
    let desk = "kind = \"smtp\"\nhost = \"h\"\nfrom = \"a@b.c\"\nto = [\"d@e.f\"]\n\
                subject = \"{orderid}\"";
    let e = error("desk", desk);
    assert!(
        e.starts_with("sink \"desk\": subject: unknown placeholder {orderid}"),
        "{e}"
    );
    assert!(e.contains("(overfill) have no field orderid"), "{e}");
}
