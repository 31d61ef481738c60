//! `umbra election`: stand for miner, vote, take votes back, list candidates.

use crate::cli::{Conn, Global};
use crate::client_cmds::{Send, send_payload};
use crate::output::emit;
use crate::resolve::signer;
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use umbra_rpc::RpcClient;
use umbra_types::{Amount, Payload, PublicKey, format_amount, parse_amount};

#[derive(Subcommand)]
pub enum ElectionCmd {
    /// Stand for miner: locks the chain's candidate deposit (see `list`).
    Announce(SignerArgs),
    /// Stop standing; the deposit comes back.
    Quit(SignerArgs),
    /// Lock tokens as votes for a candidate.
    Vote {
        #[command(flatten)]
        s: SignerArgs,
        /// The candidate: its public key (hex, as `list` shows) or dev:NAME.
        #[arg(long)]
        candidate: String,
        /// Tokens to lock, up to 9 decimals.
        #[arg(long)]
        amount: String,
        /// How long to lock them: seconds, or with a unit (90s, 10m, 2h, 7d).
        #[arg(long, default_value = "1h")]
        lock: String,
    },
    /// Take back a vote whose lock has expired (its number is in the
    /// `Voted` event of the vote's receipt).
    Withdraw {
        #[command(flatten)]
        s: SignerArgs,
        #[arg(long)]
        vote: u64,
    },
    /// Candidates, best first, and who the election would choose now.
    List {
        #[command(flatten)]
        conn: Conn,
    },
}

#[derive(Args)]
pub struct SignerArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// Who signs: a key file or dev:NAME.
    #[arg(long)]
    pub from: String,
    /// Most fee to pay, in tokens.
    #[arg(long, default_value = "0.001")]
    pub max_fee: String,
    /// Nonce to use (default: the next free one, counting pending transactions).
    #[arg(long)]
    pub nonce: Option<u64>,
    /// Return once submitted instead of waiting for the receipt.
    #[arg(long)]
    pub no_wait: bool,
    /// Seconds to wait for the receipt.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
}

impl SignerArgs {
    fn send(&self) -> Send {
        Send {
            max_fee: self.max_fee.clone(),
            nonce: self.nonce,
            wait: !self.no_wait,
            timeout: self.timeout,
        }
    }
}

/// Parses `90`, `90s`, `10m`, `2h`, `7d` into milliseconds.
pub fn parse_duration_ms(s: &str) -> anyhow::Result<u64> {
    let s = s.trim();
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = digits
        .parse()
        .with_context(|| format!("{s:?} is not a duration like 90s, 10m, 2h or 7d"))?;
    let unit_ms: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        other => bail!("unknown duration unit {other:?} (use ms, s, m, h or d)"),
    };
    n.checked_mul(unit_ms).context("duration too long")
}

fn candidate_key(s: &str) -> anyhow::Result<PublicKey> {
    if s.starts_with("dev:") {
        return Ok(signer(s)?.public());
    }
    PublicKey::from_hex(s).with_context(|| {
        format!("{s:?} is not a candidate's public key (64 hex digits, as `umbra election list` shows) or dev:NAME")
    })
}

pub async fn run(cmd: ElectionCmd, g: &Global) -> anyhow::Result<()> {
    match cmd {
        ElectionCmd::Announce(s) => {
            let key = signer(&s.from)?;
            send_payload(&s.conn, &key, Payload::ElectionAnnounce, &s.send(), g).await
        }
        ElectionCmd::Quit(s) => {
            let key = signer(&s.from)?;
            send_payload(&s.conn, &key, Payload::ElectionQuit, &s.send(), g).await
        }
        ElectionCmd::Vote {
            s,
            candidate,
            amount,
            lock,
        } => {
            let key = signer(&s.from)?;
            let payload = Payload::ElectionVote {
                candidate: candidate_key(&candidate)?,
                amount: parse_amount(&amount).context("--amount")?,
                lock_ms: parse_duration_ms(&lock).context("--lock")?,
            };
            send_payload(&s.conn, &key, payload, &s.send(), g).await
        }
        ElectionCmd::Withdraw { s, vote } => {
            let key = signer(&s.from)?;
            let payload = Payload::ElectionWithdraw { vote };
            send_payload(&s.conn, &key, payload, &s.send(), g).await
        }
        ElectionCmd::List { conn } => {
            let c = RpcClient::new(&conn.rpc)?;
            let v = c.election_candidates().await?;
            emit(g.json, &v, || {
                let tokens = |s: &str| {
                    s.parse::<Amount>()
                        .map(format_amount)
                        .unwrap_or_else(|_| s.to_string())
                };
                let mut out = format!(
                    "height {}: {} miners per term, deposit {}, votes lock at least {} s\n",
                    v.height,
                    v.miners,
                    tokens(&v.deposit),
                    v.min_vote_lock_ms / 1000
                );
                if v.candidates.is_empty() {
                    out.push_str("no candidates yet");
                    return out;
                }
                out.push_str("rank  votes              state     key\n");
                for (i, c) in v.candidates.iter().enumerate() {
                    let state = match (c.slashed, c.active, c.elected) {
                        (true, _, _) => "slashed",
                        (_, true, true) => "elected",
                        (_, true, false) => "standing",
                        _ => "quit",
                    };
                    out.push_str(&format!(
                        "{:<5} {:<18} {:<9} {}\n",
                        i + 1,
                        tokens(&c.votes),
                        state,
                        c.key
                    ));
                }
                out.pop();
                out
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration_ms;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("90").unwrap(), 90_000);
        assert_eq!(parse_duration_ms("10m").unwrap(), 600_000);
        assert_eq!(parse_duration_ms("2h").unwrap(), 7_200_000);
        assert_eq!(parse_duration_ms("250ms").unwrap(), 250);
        assert!(parse_duration_ms("7y").is_err());
        assert!(parse_duration_ms("h").is_err());
        assert!(parse_duration_ms("99999999999999999999d").is_err());
    }
}
