//! Producer throughput, kafkit against librdkafka (rust-rdkafka's
//! `ThreadedProducer`), producing the same records to the same in-process
//! mock cluster (three brokers, 6 partitions) in the same run.
//!
//! One iteration produces 20,000 × 100-byte keyless records and waits until
//! every one is acknowledged (acks=all, idempotent, linger 5 ms, no
//! compression: the producer issue's settings). Criterion reports elements/s
//! for both in one group; their ratio is kafkit's speed relative to
//! librdkafka. The mock answers in-process, so this measures client cost
//! more than broker cost; `scripts/compare_producers.sh` measures the same
//! pair against Tansu over TCP.

use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kafkit::Client;
use kafkit::producer::{Producer, ProducerRecord};
use rdkafka::ClientConfig;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer as _, ThreadedProducer};

const RECORDS: usize = 20_000;
const TOPIC: &str = "bench";

fn bench(c: &mut Criterion) {
    let mock = rdkafka::mocking::MockCluster::new(3).expect("mock cluster");
    mock.create_topic(TOPIC, 6, 3).expect("topic");
    let bootstrap = mock.bootstrap_servers();
    let payload = Bytes::from(vec![b'x'; 100]);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let producer: Producer<(), Bytes> = rt.block_on(async {
        let client = Client::builder(&bootstrap).build().await.expect("client");
        Producer::builder(&client).build().expect("producer")
    });
    let rd: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()
        .expect("rdkafka producer");

    let mut group = c.benchmark_group("produce_20k_x_100B_mock");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("kafkit", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut last = None;
                for _ in 0..RECORDS {
                    let d = producer
                        .enqueue(ProducerRecord::new(TOPIC, payload.clone()))
                        .await
                        .expect("enqueue");
                    last = Some(d);
                }
                producer.flush().await;
                if let Some(d) = last {
                    d.await.expect("delivered");
                }
            })
        })
    });
    group.bench_function("rdkafka", |b| {
        b.iter(|| {
            for _ in 0..RECORDS {
                let mut record = BaseRecord::<(), [u8]>::to(TOPIC).payload(&payload[..]);
                loop {
                    match rd.send(record) {
                        Ok(()) => break,
                        Err((_, r)) => {
                            record = r;
                            std::thread::sleep(Duration::from_micros(200));
                        }
                    }
                }
            }
            rd.flush(Duration::from_secs(30)).expect("rdkafka flush");
        })
    });
    group.finish();
    rt.block_on(producer.close(Duration::from_secs(5)))
        .expect("close");
}

criterion_group!(benches, bench);
criterion_main!(benches);
