//! Open TCP connections to a broker, read from the kernel's socket table
//! (Linux `/proc/net/tcp{,6}`): the way a test sees that a client really
//! dropped its sockets, including ones its pool does not know about.

/// The ports of a `host:port[,host:port...]` bootstrap string.
pub fn bootstrap_ports(bootstrap: &str) -> Vec<u16> {
    bootstrap
        .split(',')
        .filter_map(|a| a.rsplit(':').next()?.parse().ok())
        .collect()
}

/// Established TCP connections (in this network namespace) whose remote
/// port is one of `ports`: the client ends of connections to those
/// brokers. The brokers' own ends have the port as their local port and
/// are not counted.
pub fn established_to(ports: &[u16]) -> usize {
    const ESTABLISHED: &str = "01";
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .map(|table| {
            table
                .lines()
                .skip(1)
                .filter(|line| {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    let remote_port = fields
                        .get(2)
                        .and_then(|r| r.rsplit(':').next())
                        .and_then(|p| u16::from_str_radix(p, 16).ok());
                    fields.get(3) == Some(&ESTABLISHED)
                        && remote_port.is_some_and(|p| ports.contains(&p))
                })
                .count()
        })
        .sum()
}

/// Waits up to `timeout` for `established_to(ports)` to satisfy `cond`;
/// returns the last count seen.
pub async fn wait_for_connections(
    ports: &[u16],
    timeout: std::time::Duration,
    cond: impl Fn(usize) -> bool,
) -> usize {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let n = established_to(ports);
        if cond(n) || tokio::time::Instant::now() >= deadline {
            return n;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
