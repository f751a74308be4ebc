//! The fencing epoch of a gated shipper reaches the real sinks (SPEC §6):
//! as `Aldebaran-Epoch` at an HTTP server, as `ALDEBARAN_EPOCH` in a
//! command's environment, and as the `x-aldebaran-epoch` header at a
//! consumer of the RabbitMQ at 127.0.0.1:5672 (guest/guest).

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alerts::delivery::{
    AlertFields, DurableHead, ShipGate, ShipperExit, SinkConfig, spawn_shipper,
};
use common::write_journal;

fn config(name: &str, text: &str) -> SinkConfig {
    SinkConfig::from_toml(
        name,
        &toml::from_str(text).expect("toml"),
        &AlertFields::new(),
    )
    .expect("config")
}

/// Ships everything up to `durable` through `cfg`'s sink behind a gate
/// open at `epoch`.
fn ship_gated(cfg: &SinkConfig, journal: &Path, durable: u64, epoch: u64) {
    let mut spec = cfg.shipper_spec(journal, Arc::new(DurableHead::new(durable)));
    spec.gate = Some(Arc::new(ShipGate::opened(epoch).expect("gate")));
    let handle = spawn_shipper(spec, cfg.open_sink().expect("sink")).expect("spawn");
    handle.finish(Instant::now() + Duration::from_secs(60));
    let report = handle.join().expect("join");
    assert_eq!(
        (report.exit, report.cursor),
        (ShipperExit::Finished, durable)
    );
}

#[cfg(feature = "http")]
#[test]
fn an_http_receiver_sees_the_epoch_header() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("j");
    write_journal(&journal, 1, 3);
    let server = tiny_http::Server::http("127.0.0.1:0").expect("bind");
    let port = server.server_addr().to_ip().expect("ip").port();
    let receiver = std::thread::spawn(move || {
        (0..3)
            .map(|_| {
                let req = server.recv().expect("recv");
                let header = |name: &'static str| {
                    req.headers()
                        .iter()
                        .find(|h| h.field.equiv(name))
                        .map(|h| h.value.to_string())
                };
                let seen = (header("Idempotency-Key"), header("Aldebaran-Epoch"));
                req.respond(tiny_http::Response::empty(200))
                    .expect("respond");
                seen
            })
            .collect::<Vec<_>>()
    });
    let cfg = config(
        "hook",
        &format!("kind = \"http\"\nurl = \"http://127.0.0.1:{port}/alerts\""),
    );
    ship_gated(&cfg, &journal, 3, 17);
    let seen = receiver.join().expect("receiver");
    let want: Vec<_> = (1..=3)
        .map(|i| (Some(format!("overfill:o{i}")), Some("17".to_owned())))
        .collect();
    assert_eq!(seen, want);
}

#[test]
fn a_command_sees_the_epoch_in_its_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("j");
    write_journal(&journal, 1, 2);
    let out = dir.path().join("env.txt");
    let script = format!(
        "echo \"$ALDEBARAN_SEQ $ALDEBARAN_EPOCH\" >> {}",
        out.display()
    );
    let cfg = config(
        "pager",
        &format!("kind = \"command\"\ncommand = [\"sh\", \"-c\", {script:?}]"),
    );
    ship_gated(&cfg, &journal, 2, 6);
    assert_eq!(std::fs::read_to_string(&out).expect("read"), "1 6\n2 6\n");
}

/// broker
#[cfg(feature = "amqp")]
#[test]
fn an_amqp_consumer_sees_the_epoch_header() {
    use lapin::options::{BasicGetOptions, ExchangeDeleteOptions, QueueDeleteOptions};
    use lapin::types::AMQPValue;

    const BROKER: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("j");
    write_journal(&journal, 1, 3);
    let name = format!("aldebaran-test-epoch-{}", std::process::id());
    let cfg = config(
        "bus",
        &format!(
            "kind = \"amqp\"\nurl = {BROKER:?}\nexchange = {name:?}\nqueue = {name:?}\n\
             routing_key = {name:?}\nconfirm_timeout_ms = 5000"
        ),
    );
    ship_gated(&cfg, &journal, 3, 42);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let got = rt.block_on(async {
        let conn = lapin::Connection::connect(BROKER, lapin::ConnectionProperties::default())
            .await
            .expect("the test broker at 127.0.0.1:5672");
        let channel = conn.create_channel().await.expect("channel");
        let mut got = Vec::new();
        while let Some(m) = channel
            .basic_get(name.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .expect("get")
        {
            let p = &m.delivery.properties;
            let epoch = p
                .headers()
                .as_ref()
                .and_then(|h| h.inner().get("x-aldebaran-epoch").cloned());
            let id = p.message_id().as_ref().map(|s| s.to_string());
            got.push((id, epoch));
        }
        channel
            .queue_delete(name.as_str().into(), QueueDeleteOptions::default())
            .await
            .expect("delete queue");
        channel
            .exchange_delete(name.as_str().into(), ExchangeDeleteOptions::default())
            .await
            .expect("delete exchange");
        let _ = conn.close(200, "OK".into()).await;
        got
    });
    let want: Vec<_> = (1..=3)
        .map(|i| {
            (
                Some(format!("overfill:o{i}")),
                Some(AMQPValue::LongLongInt(42)),
            )
        })
        .collect();
    assert_eq!(got, want);
}
