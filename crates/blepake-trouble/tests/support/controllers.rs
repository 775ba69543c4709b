//! Bumble's virtual controllers for end-to-end tests: two controllers on
//! one virtual radio link, each an H4 server on a loopback port chosen
//! free at run time. Shared by the trouble-host tests and the command
//! line's.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// `python -m bumble.apps.controllers` on two free loopback ports; killed
/// on drop.
pub struct Controllers {
    child: Child,
    pub device_port: u16,
    pub host_port: u16,
}

impl Controllers {
    /// Starts the controllers; with `snoop`, Bumble writes each controller's
    /// HCI traffic to `snoop`-0.btsnoop and -1.btsnoop.
    pub fn start(snoop: Option<&Path>) -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let python = root.join(".venv/bin/python");
        assert!(
            python.exists(),
            "{} is missing: run scripts/setup, which installs Bumble",
            python.display()
        );
        let (device_port, host_port) = (free_port(), free_port());
        let mut command = Command::new(python);
        command
            .args(["-m", "bumble.apps.controllers"])
            .arg(format!("tcp-server:127.0.0.1:{device_port}"))
            .arg(format!("tcp-server:127.0.0.1:{host_port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        if let Some(snoop) = snoop {
            command.env(
                "BUMBLE_SNOOPER",
                format!("btsnoop:file:{}-{{instance}}.btsnoop", snoop.display()),
            );
        }
        let child = command.spawn().expect("Bumble's controllers start");
        let mut controllers = Self {
            child,
            device_port,
            host_port,
        };
        controllers.wait_listening();
        controllers
    }

    /// Waits until both controllers listen: until their ports cannot be
    /// bound. (A trial connection would not do: Bumble's server has one
    /// client at a time, and the trial's end can overtake the next
    /// client's start and cut it off.)
    fn wait_listening(&mut self) {
        for port in [self.device_port, self.host_port] {
            let mut tries = 0;
            while TcpListener::bind(("127.0.0.1", port)).is_ok() {
                if let Ok(Some(status)) = self.child.try_wait() {
                    panic!("Bumble's controllers exited ({status}): see their output above");
                }
                tries += 1;
                assert!(
                    tries < 300,
                    "Bumble's controllers did not listen on port {port}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

impl Drop for Controllers {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}
