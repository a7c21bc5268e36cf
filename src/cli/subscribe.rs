//! `streetwatch subscribe`: the control room's terminal client.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::subscriber::{self, Options};

#[derive(Args)]
pub struct SubscribeArgs {
    /// The MQTT broker's host.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// The MQTT broker's port.
    #[arg(long, default_value_t = 1883)]
    port: u16,
    /// MQTT user name (with --password).
    #[arg(long, env = "STREETWATCH_MQTT_USERNAME")]
    username: Option<String>,
    /// MQTT password (with --username); better given in the environment than on the command
    /// line, where other users of the box can see it.
    #[arg(long, env = "STREETWATCH_MQTT_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Site to follow (`+` for all).
    #[arg(long, default_value = "+")]
    site: String,
    /// Persistent session id: the broker keeps alerts for this subscriber while it is away.
    #[arg(long, default_value = "streetwatch-subscriber")]
    client_id: String,
    /// Save each alert as DIR/<id>.json.
    #[arg(long)]
    save: Option<PathBuf>,
    /// Exit after this many distinct alerts (0 = never).
    #[arg(long, default_value_t = 0)]
    count: usize,
    /// Exit after this many seconds (0 = never).
    #[arg(long, default_value_t = 0.0)]
    timeout: f64,
}

pub fn run(args: SubscribeArgs) -> Result<()> {
    subscriber::run(Options {
        host: args.host,
        port: args.port,
        login: args.username.zip(args.password),
        site: args.site,
        client_id: args.client_id,
        save: args.save,
        count: args.count,
        timeout_s: args.timeout,
    })?;
    Ok(())
}
