//! The producer's basic flow: `send` (wait for the ack), `enqueue` (keep many
//! in flight), `flush`, `close`.
//!
//! ```text
//! cargo run --example producer -- --bootstrap-server localhost:9092 [--topic kafkit-example]
//! ```
//!
//! Creates the topic (3 partitions) if it is missing. Ctrl-C or SIGTERM
//! stops it; what is buffered then gets up to 10 s to be delivered.

#[path = "common/cli.rs"]
mod cli;
#[path = "common/topics.rs"]
mod topics;

use std::process::ExitCode;
use std::time::Duration;

use cli::{Args, Command, Opt};
use kafkit::Client;
use kafkit::producer::{Producer, ProducerRecord};

static COMMAND: Command = Command {
    name: "producer",
    about: "Sends one record and waits for its acknowledgement, then keeps 1000 in \
            flight and collects their results.",
    options: &[Opt::optional(
        "--topic",
        "T",
        "topic to write (default kafkit-example; created if missing)",
    )],
};

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse(&COMMAND);
    cli::init_tracing();
    cli::exit_code(COMMAND.name, run(args).await)
}

async fn run(args: Args) -> Result<(), cli::BoxError> {
    let topic: String = args.value_or("--topic", "kafkit-example".into());
    let mut shutdown = cli::Shutdown::install()?;
    let client = Client::builder(args.bootstrap())
        .client_id("kafkit-producer-example")
        .build()
        .await?;
    topics::create_if_missing(&client, &[(&topic, 3)]).await?;

    let producer: Producer<String, String> = Producer::builder(&client).build()?;
    tokio::select! {
        signal = shutdown.recv() => eprintln!("{signal}: stopping"),
        sent = produce(&producer, &topic) => sent?,
    }
    // Bounded: whatever is not delivered within the timeout is failed.
    producer.close(Duration::from_secs(10)).await?;
    client.close(Duration::from_secs(1)).await;
    Ok(())
}

async fn produce(producer: &Producer<String, String>, topic: &str) -> kafkit::Result<()> {
    // Wait for one record's acknowledgement.
    let meta = producer
        .send(ProducerRecord::new(topic, "hello".to_string()).key("greeting".to_string()))
        .await?;
    println!("sent one record: {meta}");

    // Keep many in flight, then collect the results.
    let mut pending = Vec::new();
    for i in 0..1000 {
        let record =
            ProducerRecord::new(topic, format!("value-{i}")).key(format!("key-{}", i % 10));
        pending.push(producer.enqueue(record).await?);
    }
    producer.flush().await;
    let (mut ok, mut failed) = (0, 0);
    for delivery in pending {
        match delivery.await {
            Ok(_) => ok += 1,
            Err(e) => {
                if failed == 0 {
                    eprintln!("first failure: {e}");
                }
                failed += 1;
            }
        }
    }
    let m = producer.metrics();
    println!(
        "enqueued 1000 records: {ok} acknowledged, {failed} failed; the producer sent {} batches ({} bytes)",
        m.batches_sent, m.bytes_sent
    );
    Ok(())
}
