//! Reading the small files the providers take secrets from: the profile and token files. Only
//! a regular file of bounded size is read (a FIFO would block, `/dev/zero` would never end), into
//! a buffer wiped on drop. Its own module because the profile, the federated login, OIDC and pod
//! identity all read such files.

use super::CredentialsError;
use secrecy::SecretString;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use zeroize::Zeroizing;

/// An id token or authorization token file holds one token of a few KiB.
const MAX_TOKEN_FILE_BYTES: u64 = 64 * 1024;

/// Why a small file could not be read.
pub(super) enum ReadFailure {
    Io(std::io::Error),
    NotAFile,
    TooLarge,
}

/// A regular file of at most `limit` bytes, wiped from memory on drop. With `private`, a
/// warning if others may read it (not for token files: Kubernetes mounts those world-readable).
pub(super) fn read_small_file(
    path: &Path,
    limit: u64,
    private: bool,
) -> Result<Zeroizing<Vec<u8>>, ReadFailure> {
    // Checked before opening: opening a FIFO for reading blocks until someone writes to it.
    let metadata = std::fs::metadata(path).map_err(ReadFailure::Io)?;
    if !metadata.is_file() {
        return Err(ReadFailure::NotAFile);
    }
    if private {
        warn_if_readable_by_others(path, &metadata);
    }
    let file = std::fs::File::open(path).map_err(ReadFailure::Io)?;
    // Reserved once: growing the buffer would leave copies of its secrets behind.
    let mut bytes = Zeroizing::new(Vec::with_capacity(
        usize::try_from(metadata.len().min(limit) + 1).unwrap_or(0),
    ));
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadFailure::Io)?;
    if bytes.len() as u64 > limit {
        return Err(ReadFailure::TooLarge);
    }
    Ok(bytes)
}

/// A token file's content, trimmed, read now (Kubernetes rotates projected tokens in place).
/// `what` names the file in errors, e.g. `HUAWEICLOUD_OIDC_TOKEN_FILE`.
pub(crate) fn read_token_file(
    provider: &'static str,
    what: &str,
    path: &Path,
) -> Result<SecretString, CredentialsError> {
    let failed = |why: String, source: Option<Box<dyn std::error::Error + Send + Sync>>| {
        CredentialsError::Fetch {
            provider,
            message: format!("{what} {}: {why}", path.display()),
            source,
        }
    };
    let bytes = read_small_file(path, MAX_TOKEN_FILE_BYTES, false).map_err(|e| match e {
        ReadFailure::Io(e) => failed("cannot be read".into(), Some(Box::new(e))),
        ReadFailure::NotAFile => failed("not a regular file".into(), None),
        ReadFailure::TooLarge => failed(
            format!("larger than {MAX_TOKEN_FILE_BYTES} bytes, not a token"),
            None,
        ),
    })?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| failed("not UTF-8 text".into(), Some(Box::new(e))))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(failed("empty".into(), None));
    }
    Ok(SecretString::from(token))
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path, metadata: &std::fs::Metadata) {
    use std::os::unix::fs::PermissionsExt;
    static WARNED: AtomicBool = AtomicBool::new(false);
    let mode = metadata.permissions().mode();
    if mode & 0o077 != 0 && !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            path = %path.display(),
            mode = format_args!("{:o}", mode & 0o777),
            "the credentials file can be read by other users; restrict it with chmod 600"
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_: &Path, _: &std::fs::Metadata) {}

/// A fresh directory for a test's files, per process and thread.
#[cfg(test)]
pub(super) fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "hss-credentials-{name}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn credentials_token_files_are_trimmed_and_must_not_be_empty() {
        let dir = temp_dir("token");
        let file = dir.join("token");
        std::fs::write(&file, "\n  tok.en \r\n").unwrap();
        let token = read_token_file("test", "TOKEN_FILE", &file).unwrap();
        assert_eq!(token.expose_secret(), "tok.en");
        std::fs::write(&file, " \n\t").unwrap();
        let err = read_token_file("test", "TOKEN_FILE", &file).unwrap_err();
        assert!(err.to_string().ends_with(": empty"), "{err}");
        let err = read_token_file("test", "TOKEN_FILE", &dir.join("missing")).unwrap_err();
        assert!(err.to_string().contains("cannot be read"), "{err}");
        let err = read_token_file("test", "TOKEN_FILE", &dir).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
