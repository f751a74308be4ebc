//! The format version of every file the pipeline writes and reads back
//! (the alert journal's and the input log's segments, cursors and the
//! retention marker are `alerts`'; the pair's epoch file is `pair`'s):
//!
//! | file | versions read | written | where the version is |
//! |---|---|---|---|
//! | checkpoint (`<state.dir>/checkpoint`) | 4 | 4 | its magic, `aldebaran-checkpoint-4` |
//! | input-log frame (a payload in `<state.dir>/input/*.seg`) | 1 | 1 | its first byte |
//!
//! Both carried their version before versions were listed in one place, so
//! the files of the release before this one are read as they are. A file of
//! a version this binary does not read is refused, permanently, in one line
//! naming it, the version found and the version read
//! ([`PipelineError::UnknownVersion`]).

use std::path::Path;

use crate::PipelineError;

/// One kind of file and the versions this binary handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Format {
    /// The oldest version read.
    pub(crate) oldest: u64,
    /// The version written, and the newest read.
    pub(crate) current: u64,
}

pub(crate) const CHECKPOINT: Format = Format {
    oldest: 4,
    current: 4,
};

pub(crate) const INPUT_FRAME: Format = Format {
    oldest: 1,
    current: 2,
};

impl Format {
    /// Whether this binary reads version `found` (a pure decision).
    pub(crate) fn reads(&self, found: u64) -> bool {
        (self.oldest..=self.current).contains(&found)
    }

    /// The versions read, as a refusal prints them.
    pub(crate) fn reads_text(&self) -> String {
        match self.current - self.oldest {
            0 => format!("version {}", self.current),
            1 => format!("versions {} and {}", self.oldest, self.current),
            _ => format!("versions {} to {}", self.oldest, self.current),
        }
    }

    /// The refusal of `what` at `path` (e.g. "checkpoint"), found in
    /// version `found`: the state it holds belongs to the release that
    /// wrote it, or is rebuilt from the input without it.
    pub(crate) fn refuse(
        &self,
        what: String,
        path: &Path,
        found: u64,
        state_dir: &Path,
    ) -> PipelineError {
        PipelineError::UnknownVersion {
            what,
            path: path.to_path_buf(),
            found,
            reads: self.reads_text(),
            fix: format!(
                "run the aldebaran release that wrote it, or move the state directory {} away \
                 to rebuild the state from the input",
                state_dir.display()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_read() {
        assert!(CHECKPOINT.reads(4) && !CHECKPOINT.reads(3) && !CHECKPOINT.reads(5));
        assert!(INPUT_FRAME.reads(1) && INPUT_FRAME.reads(2) && !INPUT_FRAME.reads(99));
        assert_eq!(CHECKPOINT.reads_text(), "version 4");
        let e = CHECKPOINT.refuse(
            "checkpoint".into(),
            Path::new("/s/checkpoint"),
            99,
            Path::new("/s"),
        );
        assert!(!e.is_transient());
        assert_eq!(
            e.to_string(),
            "checkpoint /s/checkpoint: format version 99, but this aldebaran reads version 4; \
             run the aldebaran release that wrote it, or move the state directory /s away to \
             rebuild the state from the input"
        );
    }
}
