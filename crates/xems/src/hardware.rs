//! The hardware id that binds a store to one machine.
//!
//! SHA-256 over the CPU identity (vendor + brand, via sysinfo), the MAC address of the first
//! non-loopback interface (via mac_address) and `/etc/machine-id` where present. It is mixed into
//! the wrap-key derivation, so a copied file does not open elsewhere even with the secret. It is
//! injectable ([`HardwareId::from_bytes`]) so tests can simulate another machine and deployments
//! can supply their own stable id.

use std::sync::OnceLock;

use ring::digest;

use crate::crypto::hex;
use crate::Error;

/// A 32-byte machine identity. Not secret on its own (it is only useful with the secret).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct HardwareId([u8; 32]);

impl HardwareId {
    /// Uses the given bytes as the hardware id (tests, or a deployment-provided identity).
    pub fn from_bytes(bytes: [u8; 32]) -> HardwareId {
        HardwareId(bytes)
    }

    /// Hashes explicit components the same way [`HardwareId::detect`] does.
    pub fn from_components(
        cpu: Option<&str>,
        mac: Option<[u8; 6]>,
        machine_id: Option<&str>,
    ) -> HardwareId {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(b"xems-hwid-v1\0");
        // Tagged, length-prefixed fields: no two different component sets hash the same input.
        if let Some(cpu) = cpu {
            ctx.update(b"C");
            ctx.update(&(cpu.len() as u64).to_le_bytes());
            ctx.update(cpu.as_bytes());
        }
        if let Some(mac) = mac {
            ctx.update(b"M");
            ctx.update(&mac);
        }
        if let Some(id) = machine_id {
            ctx.update(b"I");
            ctx.update(&(id.len() as u64).to_le_bytes());
            ctx.update(id.as_bytes());
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        HardwareId(out)
    }

    /// Detects this machine's id (computed once per process: the hardware does not change
    /// under a running process, and CPU enumeration is not free).
    pub fn detect() -> Result<HardwareId, Error> {
        static DETECTED: OnceLock<Result<HardwareId, Error>> = OnceLock::new();
        DETECTED.get_or_init(detect_uncached).clone()
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for HardwareId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HardwareId({})", hex(&self.0))
    }
}

fn detect_uncached() -> Result<HardwareId, Error> {
    let cpu = cpu_identity();
    let mac = match mac_address::get_mac_address() {
        Ok(Some(m)) if m.bytes() != [0u8; 6] => Some(m.bytes()),
        _ => None,
    };
    let machine_id = ["/etc/machine-id", "/var/lib/dbus/machine-id"]
        .iter()
        .find_map(|p| {
            let s = std::fs::read_to_string(p).ok()?;
            let t = s.trim();
            (!t.is_empty()).then(|| t.to_owned())
        });
    if cpu.is_none() && mac.is_none() && machine_id.is_none() {
        return Err(Error::invalid(
            "no hardware identity could be read (CPU, MAC address, machine-id); open with hardware_bound(false) or supply hardware_id()",
        ));
    }
    Ok(HardwareId::from_components(
        cpu.as_deref(),
        mac,
        machine_id.as_deref(),
    ))
}

fn cpu_identity() -> Option<String> {
    use sysinfo::{CpuRefreshKind, RefreshKind, System};
    let sys =
        System::new_with_specifics(RefreshKind::nothing().with_cpu(CpuRefreshKind::nothing()))
            .ok()?;
    let cpu = sys.cpus().first()?;
    let id = format!("{}\0{}", cpu.vendor_id().trim(), cpu.brand().trim());
    (id.len() > 1).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_are_unambiguous() {
        let a = HardwareId::from_components(Some("ab"), None, Some("c"));
        let b = HardwareId::from_components(Some("a"), None, Some("bc"));
        let c = HardwareId::from_components(Some("ab"), Some([1, 2, 3, 4, 5, 6]), Some("c"));
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, HardwareId::from_components(Some("ab"), None, Some("c")));
    }

    #[test]
    fn detect_is_stable_within_a_process() {
        // This machine has at least a machine-id or a CPU brand; detection must be deterministic.
        let a = HardwareId::detect();
        let b = HardwareId::detect();
        match (a, b) {
            (Ok(a), Ok(b)) => assert_eq!(a, b),
            (Err(a), Err(b)) => assert!(a.is_invalid_argument() && b.is_invalid_argument()),
            _ => panic!("detection changed between calls"),
        }
        assert_eq!(cpu_identity(), cpu_identity());
    }
}
