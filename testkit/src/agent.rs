//! A real `ssh-agent` for tests, on its own socket, killed on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::sshd::TempDir;

pub struct Agent {
    pub socket: PathBuf,
    child: Child,
    _dir: TempDir,
}

impl Agent {
    /// Starts `ssh-agent -D -a SOCKET` and waits for its socket.
    pub fn start() -> Agent {
        let dir = TempDir::new();
        let socket = dir.join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ssh-agent (openssh-client) is installed");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(
                Instant::now() < deadline,
                "ssh-agent did not create its socket"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Agent {
            socket,
            child,
            _dir: dir,
        }
    }

    /// `ssh-add KEY`, answering a passphrase prompt with `passphrase` through SSH_ASKPASS.
    pub fn add(&self, key: &Path, passphrase: Option<&str>) {
        let mut cmd = Command::new("ssh-add");
        cmd.arg(key)
            .env("SSH_AUTH_SOCK", &self.socket)
            .stdin(Stdio::null());
        let askpass = self._dir.join("askpass.sh");
        if let Some(pass) = passphrase {
            std::fs::write(&askpass, format!("#!/bin/sh\necho '{pass}'\n")).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o700)).unwrap();
            cmd.env("SSH_ASKPASS", &askpass)
                .env("SSH_ASKPASS_REQUIRE", "force")
                .env("DISPLAY", ":0");
        }
        let out = cmd.output().expect("run ssh-add");
        assert!(
            out.status.success(),
            "ssh-add {} failed: {}",
            key.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn socket_str(&self) -> String {
        self.socket.display().to_string()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
