//! Passwords: argon2id hashes, made and checked on a fixed set of hasher
//! threads (as many as the machine has cores), away from the database and
//! the async workers.
//!
//! One hash takes about 19 MiB and 60 ms. Inside `db::run` it would hold a
//! pooled connection for that long, so a login flood starved every other
//! request of the pool. On the blocking pool (dozens of threads) each hash
//! allocated its 19 MiB afresh, and glibc kept the freed blocks in the
//! arena of whichever thread ran it: a flood of wrong passwords grew the
//! heap by hundreds of MiB and it stayed. So each hasher thread allocates
//! one argon2 memory block on its first job and hashes every later one
//! into it (`Argon2::hash_password_into_with_memory`); verifying parses the
//! stored PHC string's algorithm, version, parameters and salt, hashes into
//! that block and compares the outputs in constant time, which is what the
//! crate's own `verify_password` does, minus its allocation.
//!
//! A request first waits for a hashing slot (one per hasher), for at most
//! `hash_wait` (5 s; then 429), then hands its job to the hashers through a
//! bounded queue and awaits the answer without blocking an async worker.
//! The slot travels with the job and is freed when a hasher has finished
//! it, so a client that hangs up cannot leave more jobs queued than there
//! are hashers. The hash format is the crate's default (argon2id, m=19456,
//! t=2, p=1): hashes made before still verify, and these verify with the
//! crate's own code.

use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::rngs::OsRng;
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore, SemaphorePermit};

use crate::error::{AppError, AppResult};

/// Checked against when the username is unknown, so that answer takes as
/// long as a wrong password does: a hash (of a password nobody has) with
/// the parameters new hashes get, so it costs the same to check.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2h1ZmZpZnktZHVtbXk$3H6Ob9XvUBuNsJhH8xDrI2Wvz2T4nL6dWvxvq3rVVbk";

/// An argon2id hash of `password` with the default parameters, allocating
/// its own memory: for the command line and the demo data, which hash once.
/// The server hashes through [`PasswordHashing`].
pub fn hash_password(password: &str) -> AppResult<String> {
    hash_into(&mut Vec::new(), password.as_bytes())
}

/// Whether `password` matches the PHC string `hash`, allocating its own
/// memory (see [`hash_password`]).
pub fn verify_password(password: &str, hash: &str) -> bool {
    verify_into(&mut Vec::new(), password.as_bytes(), hash)
}

/// The blocks `params` needs, taken from `memory`, which grows (and then
/// stays grown) when it is too small.
fn blocks_for<'m>(memory: &'m mut Vec<Block>, params: &Params) -> &'m mut [Block] {
    let needed = params.block_count();
    if memory.len() < needed {
        memory.resize(needed, Block::default());
    }
    &mut memory[..needed]
}

/// A new hash of `password` with a random salt, computed in `memory`.
fn hash_into(memory: &mut Vec<Block>, password: &[u8]) -> AppResult<String> {
    let failed = |e: &dyn std::fmt::Display| AppError::Internal(format!("password hashing: {e}"));
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(|e| failed(&e))?;
    let params = Params::default();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let output = Output::init_with(output_len, |out| {
        argon2
            .hash_password_into_with_memory(password, salt_bytes, out, blocks_for(memory, &params))
            .map_err(Into::into)
    })
    .map_err(|e| failed(&e))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| failed(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `phc`, computed in `memory`.
/// Anything that does not parse as an argon2 hash matches nothing.
fn verify_into(memory: &mut Vec<Block>, password: &[u8], phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(expected), Some(salt)) = (parsed.hash, parsed.salt) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    // The parameters as stored, with the output length of the stored hash.
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let computed = Output::init_with(expected.len(), |out| {
        argon2
            .hash_password_into_with_memory(password, salt_bytes, out, blocks_for(memory, &params))
            .map_err(Into::into)
    });
    // `Output`'s equality is constant-time.
    computed.is_ok_and(|computed| computed == expected)
}

/// What a hasher is asked to do; the slot is freed once it is done.
enum Job {
    Hash {
        password: String,
        answer: oneshot::Sender<AppResult<String>>,
        _slot: OwnedSemaphorePermit,
    },
    Verify {
        password: String,
        hash: Option<String>,
        answer: oneshot::Sender<bool>,
        _slot: OwnedSemaphorePermit,
    },
}

/// One hasher thread: takes jobs until every sender is gone, hashing each
/// into the one memory block it keeps.
fn hasher(jobs: Arc<Mutex<Receiver<Job>>>) {
    let mut memory: Vec<Block> = Vec::new();
    loop {
        let job = {
            let queue = jobs.lock().unwrap_or_else(|p| p.into_inner());
            match queue.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        match job {
            // A caller that gave up (its client hung up) costs no hash.
            Job::Hash {
                password, answer, ..
            } => {
                if !answer.is_closed() {
                    let _ = answer.send(hash_into(&mut memory, password.as_bytes()));
                }
            }
            Job::Verify {
                password,
                hash,
                answer,
                ..
            } => {
                if !answer.is_closed() {
                    let matched = match hash {
                        Some(hash) => verify_into(&mut memory, password.as_bytes(), &hash),
                        None => {
                            verify_into(&mut memory, password.as_bytes(), DUMMY_HASH);
                            false
                        }
                    };
                    let _ = answer.send(matched);
                }
            }
        }
    }
}

/// The hashers of one process and the slots that lead to them.
pub struct PasswordHashing {
    slots: Arc<Semaphore>,
    size: u32,
    wait: Duration,
    jobs: SyncSender<Job>,
}

impl PasswordHashing {
    /// One hasher thread (and one slot) per core; a request waits at most
    /// `wait` for a slot. The threads end when this is dropped.
    pub fn new(wait: Duration) -> Self {
        let size = std::thread::available_parallelism().map_or(2, |n| n.get());
        // Never fuller than the slots allow, so sending never blocks.
        let (jobs, queue) = mpsc::sync_channel(size);
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..size {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("password-hasher-{i}"))
                .spawn(move || hasher(queue))
                .expect("cannot start a password hasher thread");
        }
        PasswordHashing {
            slots: Arc::new(Semaphore::new(size)),
            size: size as u32,
            wait,
            jobs,
        }
    }

    async fn slot(&self) -> AppResult<OwnedSemaphorePermit> {
        match tokio::time::timeout(self.wait, self.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(AppError::RateLimited {
                message: format!(
                    "the server is busy checking passwords (at most {} at once, none free for {} s); try again",
                    self.size,
                    self.wait.as_secs_f64()
                ),
                retry_after_secs: self.wait.as_secs().max(1),
            }),
        }
    }

    fn send(&self, job: Job) -> AppResult<()> {
        self.jobs.try_send(job).map_err(|e| {
            AppError::Internal(match e {
                TrySendError::Full(_) => "the password hashers' queue is full".into(),
                TrySendError::Disconnected(_) => "the password hashers stopped".into(),
            })
        })
    }

    /// A new argon2id hash of `password`.
    pub async fn hash(&self, password: String) -> AppResult<String> {
        let slot = self.slot().await?;
        let (answer, answered) = oneshot::channel();
        self.send(Job::Hash {
            password,
            answer,
            _slot: slot,
        })?;
        answered
            .await
            .map_err(|_| AppError::Internal("a password hasher stopped".into()))?
    }

    /// Whether `password` matches `hash`; with no hash (an unknown user),
    /// a check against a dummy hash that takes as long and fails.
    pub async fn verify(&self, password: String, hash: Option<String>) -> AppResult<bool> {
        let slot = self.slot().await?;
        let (answer, answered) = oneshot::channel();
        self.send(Job::Verify {
            password,
            hash,
            answer,
            _slot: slot,
        })?;
        answered
            .await
            .map_err(|_| AppError::Internal("a password hasher stopped".into()))
    }

    /// Takes every slot until the permit is dropped: for tests that prove
    /// what waits for a slot and what does not.
    pub async fn hold_every_slot(&self) -> SemaphorePermit<'_> {
        self.slots
            .acquire_many(self.size)
            .await
            .expect("the semaphore is never closed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    /// The crate's own way, as hashes were made and checked before.
    fn crate_hash(password: &str) -> String {
        Argon2::default()
            .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string()
    }

    fn crate_verify(password: &str, hash: &str) -> bool {
        Argon2::default()
            .verify_password(password.as_bytes(), &PasswordHash::new(hash).unwrap())
            .is_ok()
    }

    #[test]
    fn hashes_made_by_the_crate_verify_here() {
        let hash = crate_hash("correct horse");
        let mut memory = Vec::new();
        assert!(verify_into(&mut memory, b"correct horse", &hash));
        assert!(!verify_into(&mut memory, b"correct hors", &hash));
        assert!(verify_password("correct horse", &hash));
    }

    #[test]
    fn hashes_made_here_verify_with_the_crate() {
        let hash = hash_password("battery staple").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(crate_verify("battery staple", &hash));
        assert!(!crate_verify("battery stapler", &hash));
    }

    #[test]
    fn one_memory_block_serves_hash_after_hash() {
        let mut memory = Vec::new();
        let first = hash_into(&mut memory, b"first").unwrap();
        let len = memory.len();
        let second = hash_into(&mut memory, b"second").unwrap();
        assert_eq!(memory.len(), len, "the block is reused, not grown");
        assert!(verify_into(&mut memory, b"first", &first));
        assert!(verify_into(&mut memory, b"second", &second));
        assert!(!verify_into(&mut memory, b"second", &first));
        assert_eq!(memory.len(), len);
    }

    #[test]
    fn other_parameters_verify_too() {
        // A hash with other costs (say, made by an older release) still
        // checks: the parameters are read from the string.
        let params = Params::new(8 * 1024, 1, 2, Some(24)).unwrap();
        let hash = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"pw", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        let mut memory = Vec::new();
        assert!(verify_into(&mut memory, b"pw", &hash));
        assert!(!verify_into(&mut memory, b"px", &hash));
    }

    #[test]
    fn junk_matches_nothing() {
        let mut memory = Vec::new();
        for junk in ["", "plain", "$argon2id$v=19$m=19456,t=2,p=1$", "$pbkdf2$x"] {
            assert!(!verify_into(&mut memory, b"", junk), "{junk}");
        }
    }

    #[test]
    fn the_dummy_hash_costs_what_a_real_one_does() {
        let dummy = PasswordHash::new(DUMMY_HASH).unwrap();
        let real_hash = hash_password("x").unwrap();
        let real = PasswordHash::new(&real_hash).unwrap();
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.version, real.version);
        assert_eq!(dummy.params, real.params);
        assert_eq!(dummy.hash.unwrap().len(), real.hash.unwrap().len());
        // Its salt decodes, so checking against it runs a whole hash.
        let mut salt = [0u8; 64];
        assert!(dummy.salt.unwrap().decode_b64(&mut salt).unwrap().len() >= 8);
    }

    #[actix_web::test]
    async fn the_hashers_hash_and_verify() {
        let hashing = PasswordHashing::new(Duration::from_secs(5));
        let hash = hashing.hash("a-fine-password".into()).await.unwrap();
        assert!(crate_verify("a-fine-password", &hash));
        let old = crate_hash("an-old-password");
        assert!(hashing
            .verify("an-old-password".into(), Some(old.clone()))
            .await
            .unwrap());
        assert!(!hashing
            .verify("a-wrong-password".into(), Some(old))
            .await
            .unwrap());
        assert!(!hashing.verify("anything".into(), None).await.unwrap());
    }
}
