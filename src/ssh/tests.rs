use super::exec::{LineBuffer, quote};
use super::options::{cipher_order, hardware_aes};
use super::*;

#[test]
fn line_buffer_splits_across_chunks() {
    let mut buffer = LineBuffer::default();
    assert_eq!(buffer.push(b"one\ntw"), ["one"]);
    assert_eq!(buffer.push(b"o\r\nthree"), ["two"]);
    assert_eq!(buffer.finish(), ["three"]);
}

#[test]
fn line_buffer_cuts_many_lines_of_one_chunk() {
    let mut buffer = LineBuffer::default();
    assert_eq!(
        buffer.push(b"a\r\n\nb\nc"),
        ["a", "", "b"],
        "one chunk, one batch"
    );
    assert!(buffer.push(b"d\r").is_empty());
    assert_eq!(buffer.push(b"\n"), ["cd"]);
    assert!(buffer.finish().is_empty(), "nothing left over");
}

#[test]
fn only_ciphers_openssh_enables_by_default_are_offered() {
    // ssh_config(5), OpenSSH 9: the default `Ciphers`.
    let openssh = [
        "chacha20-poly1305@openssh.com",
        "aes128-ctr",
        "aes192-ctr",
        "aes256-ctr",
        "aes128-gcm@openssh.com",
        "aes256-gcm@openssh.com",
    ];
    let order: Vec<&str> = cipher_order().iter().map(|c| c.as_ref()).collect();
    assert!(order.iter().all(|c| openssh.contains(c)), "{order:?}");
    let first = if hardware_aes() {
        "aes128-gcm@openssh.com"
    } else {
        "chacha20-poly1305@openssh.com"
    };
    assert_eq!(order[0], first);
}

#[test]
fn debug_hides_the_sudo_password() {
    let opts = ConnectOptions {
        sudo_password: Some("hunter2".into()),
        ..ConnectOptions::default()
    };
    let text = format!("{opts:?}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("<hidden>"));
}

#[test]
fn quoting_keeps_values_as_data() {
    let q = quote("echo '$(reboot)'; ls");
    assert_eq!(shlex::split(&q).unwrap(), ["echo '$(reboot)'; ls"]);
}
