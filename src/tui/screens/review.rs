//! Review: every finding, every file that will be written and every command each stage will
//! run per host (dry run), and saving the plan.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::plan::{Level, Plan, Role};
use crate::provision::StageId;
use crate::tui::app::{Model, ReviewTab};
use crate::tui::domain::Severity;
use crate::tui::widgets::{Look, style};

/// The files provisioning writes, with their contents.
pub fn files(plan: &Plan) -> Vec<(String, String)> {
    let mut out = vec![(
        format!("{}.yaml (the plan)", plan.cluster.name),
        crate::plan::to_yaml(plan),
    )];
    match crate::render::render(plan) {
        Ok(files) => out.extend(files.into_iter().map(|f| {
            (
                format!("inventory/{}/{}", plan.cluster.name, f.path.display()),
                f.contents,
            )
        })),
        Err(e) => out.push(("(inventory not rendered)".into(), e.to_string())),
    }
    out
}

/// What each stage runs on each host, in order.
pub fn commands(plan: &Plan) -> Vec<(StageId, String, Vec<String>)> {
    let mut out = Vec::new();
    let first_cp = plan
        .hosts
        .iter()
        .find(|h| h.has_role(Role::ControlPlane))
        .map(|h| h.name.clone());
    for h in &plan.hosts {
        out.push((
            StageId::Preflight,
            h.name.clone(),
            vec![
                "sudo -n true".into(),
                "cat /etc/os-release; uname -r; stat -fc %T /sys/fs/cgroup".into(),
                "swapon --show; timedatectl show -p NTPSynchronized".into(),
                "ss -ltnH '( sport = :2379 or sport = :2380 or sport = :6443 or sport = :10250 )'"
                    .into(),
                "lsblk -J -b -O".into(),
            ],
        ));
    }
    for h in &plan.hosts {
        out.push((
            StageId::HostPrep,
            h.name.clone(),
            vec![
                format!(
                    "install -m 0644 /dev/stdin {}",
                    crate::render::SYSCTL_REMOTE_PATH
                ),
                "sysctl --system".into(),
                "apt-get install -y mdadm xfsprogs chrony".into(),
            ],
        ));
    }
    for h in &plan.hosts {
        let mut c = Vec::new();
        for (i, l) in h.storage.iter().enumerate() {
            let devs: Vec<String> = l.devices.iter().map(|d| format!("/dev/{d}")).collect();
            if l.wipe {
                c.push(format!("wipefs -a {}", devs.join(" ")));
            }
            let fs = l.filesystem.as_str();
            let targets: Vec<(String, String)> = match l.level {
                Level::PerDisk => l
                    .devices
                    .iter()
                    .map(|d| {
                        (
                            format!("/dev/{d}"),
                            format!("{}/{d}", l.mount.trim_end_matches('/')),
                        )
                    })
                    .collect(),
                Level::Single => vec![(devs.join(" "), l.mount.clone())],
                level => {
                    let md = format!("/dev/md{i}");
                    c.push(format!(
                        "mdadm --create {md} --level={} --raid-devices={} --metadata=1.2 {}",
                        level.as_str().trim_start_matches("raid"),
                        devs.len(),
                        devs.join(" ")
                    ));
                    vec![(md, l.mount.clone())]
                }
            };
            for (dev, mount) in targets {
                c.push(format!("mkfs.{fs} {dev}"));
                c.push("cp /etc/fstab /etc/fstab.rackstrap.bak".into());
                c.push(format!("echo \"UUID=$(blkid -s UUID -o value {dev}) {mount} {fs} defaults 0 2\" >> /etc/fstab"));
                c.push(format!("mkdir -p {mount} && mount {mount}"));
            }
            if l.level.is_md() {
                c.push("/usr/share/mdadm/mkconf > /etc/mdadm/mdadm.conf".into());
                c.push("update-initramfs -u".into());
            }
            for r in &l.relocate {
                let svc = match r {
                    crate::plan::Relocate::Kubelet => "kubelet",
                    crate::plan::Relocate::Containerd => "containerd",
                };
                c.push(format!("systemctl disable --now {svc}; mv /var/lib/{svc} {}/{svc}; ln -s {}/{svc} /var/lib/{svc}", l.mount, l.mount));
            }
        }
        if c.is_empty() {
            c.push("(no layouts: nothing to do)".into());
        }
        out.push((StageId::Storage, h.name.clone(), c));
    }
    let name = &plan.cluster.name;
    out.push((
        StageId::Kubespray,
        "all".into(),
        vec![
            format!("cp -rfp inventory/sample inventory/{name}"),
            format!("write inventory/{name}/hosts.yaml and group_vars/"),
            format!(
                "ansible-playbook -i inventory/{name}/hosts.yaml -b -v --private-key={} cluster.yml",
                plan.access.identity
            ),
        ],
    ));
    if let Some(cp) = first_cp {
        out.push((
            StageId::Verify,
            cp.clone(),
            vec![
                "kubectl get nodes".into(),
                "kubectl get pods -n kube-system".into(),
                "kubectl -n kube-system get configmap coredns -o yaml".into(),
                "etcdctl endpoint health".into(),
            ],
        ));
        if !plan.network.load_balancer.pools.is_empty() {
            out.push((
                StageId::LoadBalancer,
                cp,
                vec![
                    "kubectl apply -f metallb-pools.yaml (IPAddressPool + L2Advertisement)".into(),
                    "kubectl -n kube-system patch configmap kube-proxy (strictARP: true)".into(),
                ],
            ));
        }
    }
    out
}

pub fn render(m: &Model, f: &mut Frame, area: Rect) {
    let [tabs, body, saved] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    let mut t = Vec::new();
    let list = m.plan_findings();
    for tab in ReviewTab::ALL {
        let name = match tab {
            ReviewTab::Findings => format!("Findings ({})", list.len()),
            other => other.title().to_string(),
        };
        let label = if tab == m.review.tab {
            format!("[{name}]")
        } else {
            format!(" {name} ")
        };
        t.push(Span::styled(
            label,
            if tab == m.review.tab {
                style(m.theme, Look::Focus)
            } else {
                style(m.theme, Look::Dim)
            },
        ));
        t.push(Span::raw(" "));
    }
    f.render_widget(Paragraph::new(Line::from(t)), tabs);
    let lines: Vec<Line> = match m.review.tab {
        ReviewTab::Findings => {
            if list.is_empty() {
                vec![Line::from(Span::styled(
                    "✓ no findings: the plan is ready",
                    style(m.theme, Look::Ok),
                ))]
            } else {
                list.iter()
                    .map(|x| {
                        let look = match x.severity {
                            Severity::Error => Look::Error,
                            Severity::Warning => Look::Warn,
                            Severity::Hint | Severity::Info => Look::Hint,
                        };
                        Line::from(vec![
                            Span::styled(
                                format!("{:<8}", x.severity.as_str()),
                                style(m.theme, look),
                            ),
                            Span::styled(format!("{:<20}", x.code), style(m.theme, Look::Dim)),
                            Span::raw(format!("{}  ", x.message)),
                            Span::styled(x.path.clone(), style(m.theme, Look::Dim)),
                        ])
                    })
                    .collect()
            }
        }
        ReviewTab::Files => files(&m.plan)
            .into_iter()
            .flat_map(|(name, body)| {
                let mut l = vec![Line::from(Span::styled(
                    format!("── {name}"),
                    style(m.theme, Look::Title),
                ))];
                l.extend(body.lines().map(|s| Line::from(format!("  {s}"))));
                l
            })
            .collect(),
        ReviewTab::Commands => commands(&m.plan)
            .into_iter()
            .flat_map(|(stage, host, cmds)| {
                let mut l = vec![Line::from(Span::styled(
                    format!("── {} on {host}", stage.title()),
                    style(m.theme, Look::Title),
                ))];
                l.extend(cmds.into_iter().map(|c| Line::from(format!("  $ {c}"))));
                l
            })
            .collect(),
    };
    f.render_widget(Paragraph::new(lines).scroll((m.review.scroll, 0)), body);
    let s = match (&m.review.saved, &m.review.save_error) {
        (_, Some(e)) => Line::from(Span::styled(
            format!("save failed: {e}"),
            style(m.theme, Look::Error),
        )),
        (Some(p), None) => Line::from(Span::styled(
            format!("saved: {}", p.display()),
            style(m.theme, Look::Ok),
        )),
        (None, None) => Line::from(Span::styled(
            "not saved yet: s saves the plan",
            style(m.theme, Look::Warn),
        )),
    };
    f.render_widget(Paragraph::new(s), saved);
}
