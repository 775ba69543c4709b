//! Device storage in a directory, one file per slot, each replaced
//! atomically: for a host tool, a device on a PC, or a Linux gateway.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::string::String;

use super::{MAX_VALUE_LEN, Slot, Storage};

/// A directory of small files, one per [`Slot`]. A write goes to a
/// temporary file that is synced and renamed over the old one, and the
/// directory is synced, so a power cut leaves the old value or the new
/// one. Files are created readable by their owner only: bonds are secret.
#[derive(Debug)]
pub struct FileStorage {
    dir: PathBuf,
}

impl FileStorage {
    /// Storage in `dir`, created (owner-only on Unix) if missing.
    pub fn open(dir: impl AsRef<Path>) -> io::Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&dir)?;
        Ok(Self { dir })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, slot: Slot) -> PathBuf {
        self.dir.join(file_name(slot))
    }

    /// Makes a rename or removal in the directory durable.
    fn sync_dir(&self) -> io::Result<()> {
        #[cfg(unix)]
        File::open(&self.dir)?.sync_all()?;
        Ok(())
    }
}

fn file_name(slot: Slot) -> String {
    match slot {
        Slot::Counter(copy) => std::format!("counter-{copy}"),
        Slot::Bond(index) => std::format!("bond-{index:02}"),
    }
}

impl Storage for FileStorage {
    type Error = io::Error;

    fn read(&mut self, slot: Slot, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let mut file = match File::open(self.path(slot)) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        // Read one byte past the largest value, so that a longer file
        // (damage) reads as a wrong length rather than a truncated value.
        let mut value = zeroize::Zeroizing::new([0; MAX_VALUE_LEN + 1]);
        let mut len = 0;
        while len < value.len() {
            match file.read(&mut value[len..])? {
                0 => break,
                n => len += n,
            }
        }
        let copied = len.min(buf.len());
        buf[..copied].copy_from_slice(&value[..copied]);
        Ok(Some(copied))
    }

    fn write(&mut self, slot: Slot, value: &[u8]) -> io::Result<()> {
        let path = self.path(slot);
        let temporary = self.dir.join(std::format!(".{}.new", file_name(slot)));
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temporary)?;
        file.write_all(value)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temporary, &path)?;
        self.sync_dir()
    }

    fn erase(&mut self, slot: Slot) -> io::Result<()> {
        match fs::remove_file(self.path(slot)) {
            Ok(()) => self.sync_dir(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(std::format!(
            "blepake-file-storage-{name}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn values_round_trip_replace_and_erase() {
        let dir = scratch("round-trip");
        let mut storage = FileStorage::open(&dir).unwrap();
        let mut buf = [0; MAX_VALUE_LEN];
        assert_eq!(storage.read(Slot::Bond(3), &mut buf).unwrap(), None);
        storage.write(Slot::Bond(3), b"first").unwrap();
        storage.write(Slot::Bond(3), b"second value").unwrap();
        assert_eq!(storage.read(Slot::Bond(3), &mut buf).unwrap(), Some(12));
        assert_eq!(&buf[..12], b"second value");
        // Reopening reads what is there.
        let mut reopened = FileStorage::open(&dir).unwrap();
        assert_eq!(reopened.read(Slot::Bond(3), &mut buf).unwrap(), Some(12));
        reopened.erase(Slot::Bond(3)).unwrap();
        reopened.erase(Slot::Bond(3)).unwrap();
        assert_eq!(reopened.read(Slot::Bond(3), &mut buf).unwrap(), None);
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_oversized_file_reads_as_a_wrong_length() {
        let dir = scratch("oversized");
        let mut storage = FileStorage::open(&dir).unwrap();
        fs::write(dir.join("counter-1"), [7; 200]).unwrap();
        let mut buf = [0; MAX_VALUE_LEN + 1];
        assert_eq!(
            storage.read(Slot::Counter(1), &mut buf).unwrap(),
            Some(MAX_VALUE_LEN + 1)
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private_to_their_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("private");
        let mut storage = FileStorage::open(&dir).unwrap();
        storage.write(Slot::Bond(0), b"secret").unwrap();
        let mode = fs::metadata(dir.join("bond-00"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        fs::remove_dir_all(&dir).unwrap();
    }
}
