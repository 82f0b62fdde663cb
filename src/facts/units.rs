//! Sizes for people: one formatting for every screen, report and finding, so a disk reads
//! the same in `rackstrap discover`, the wizard and `rackstrap check`.

/// Sizes the way `lsblk` prints them: binary units (`K` = 1024), no space, one decimal below 10
/// unless it is `.0` (`512B`, `40G`, `1.7T`, `1.5G`).
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "K", "M", "G", "T", "P"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}B")
    } else if value < 10.0 && !((value.fract() * 10.0).round() as u64).is_multiple_of(10) {
        format!("{value:.1}{}", UNITS[unit])
    } else {
        format!("{value:.0}{}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_lsblk() {
        assert_eq!(human_bytes(512), "512B");
        assert_eq!(human_bytes(40 << 30), "40G");
        assert_eq!(human_bytes(1_920_383_410_176), "1.7T");
        assert_eq!(human_bytes(1536 << 20), "1.5G");
    }
}
