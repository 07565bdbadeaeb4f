//! The run page's pictures of time: the timeline of every client operation
//! under the nemesis periods (exact, or rasterized past [`super::EXACT_OPS`])
//! and the leadership of every shard.

use super::EXACT_OPS;
use crate::analysis::{self, Channel, Op, Status};
use crate::html::{esc, ms, script_json, secs, svg_bands, time_grid, x_of, FIG_W, GUTTER, PLOT_W};
use serde_json::{json, Value as Json};
use tumult_models::history::History;

pub(super) fn status_color(s: Status) -> &'static str {
    match s {
        Status::Ok => "#3fae5a",
        Status::Fail => "#d9534f",
        Status::Info => "#f0ad4e",
        Status::Pending => "#9aa0a6",
    }
}

fn legend(h: &mut String, with_ops: bool) {
    h.push_str("<div class=\"legend\">");
    if with_ops {
        for s in [Status::Ok, Status::Fail, Status::Info, Status::Pending] {
            h.push_str(&format!(
                "<span><i style=\"background:{}\"></i>{}</span>",
                status_color(s),
                s.word()
            ));
        }
    }
    for c in Channel::ALL {
        h.push_str(&format!(
            "<span><i style=\"background:{};opacity:.45\"></i>{}</span>",
            c.color(),
            c.name()
        ));
    }
    h.push_str("</div>");
}

pub(super) fn timeline(
    h: &mut String,
    ops: &[Op],
    nemesis: &analysis::Nemesis,
    clients: Option<u64>,
    end: u64,
) {
    h.push_str(&format!(
        "<h2>Timeline of client operations <span class=\"muted\">({} operations)</span></h2>",
        ops.len()
    ));
    legend(h, true);
    // The nemesis strip: one row per kind of fault, and the point events.
    let channels: Vec<Channel> = Channel::ALL
        .into_iter()
        .filter(|c| nemesis.bands.iter().any(|b| b.channel == *c))
        .collect();
    let row_h = 16.0;
    let strip_h = (channels.len() as f64 + 1.0) * row_h + 4.0;
    let mut svg = format!("<svg id=\"nemesis-strip\" width=\"{FIG_W}\" height=\"{strip_h:.0}\">");
    svg.push_str(&time_grid(end, 0.0, strip_h, false));
    for (i, c) in channels.iter().enumerate() {
        let y = i as f64 * row_h + 2.0;
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            GUTTER - 8,
            y + 11.0,
            c.name()
        ));
        for b in nemesis.bands.iter().filter(|b| b.channel == *c) {
            let x0 = x_of(b.start, end);
            let w = (x_of(b.end, end) - x0).max(2.0);
            svg.push_str(&format!(
                "<rect class=\"strip\" x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{:.1}\" rx=\"2\" fill=\"{}\"><title>{} ({}–{})</title></rect>",
                row_h - 3.0,
                c.color(),
                esc(&b.label),
                secs(b.start),
                secs(b.end)
            ));
            if w > 60.0 {
                let max_chars = (w / 6.2) as usize;
                let mut label: String = b.label.chars().take(max_chars).collect();
                if label.len() < b.label.len() {
                    label.pop();
                    label.push('…');
                }
                svg.push_str(&format!(
                    "<text x=\"{:.1}\" y=\"{:.1}\" style=\"fill:#fff;font-size:10px\">{}</text>",
                    x0 + 3.0,
                    y + 10.0,
                    esc(&label)
                ));
            }
        }
    }
    let y = channels.len() as f64 * row_h + 2.0;
    svg.push_str(&format!(
        "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">events</text>",
        GUTTER - 8,
        y + 11.0
    ));
    for m in &nemesis.markers {
        let x = x_of(m.time, end);
        svg.push_str(&format!(
            "<g class=\"nemesis-marker\"><title>{} at {}</title><line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{y:.1}\" y2=\"{:.1}\" stroke=\"#344054\" stroke-width=\"2\"/><path d=\"M{:.1},{y:.1} l8,0 l-4,6 z\" fill=\"#344054\"/></g>",
            esc(&m.label),
            secs(m.time),
            y + row_h - 2.0,
            x - 4.0
        ));
    }
    svg.push_str("</svg>");
    h.push_str(&svg);

    let lanes = analysis::lanes(ops, clients);
    let lane_h = (640 / lanes.labels.len().max(1)).clamp(3, 14);
    let height = lanes.labels.len().max(1) * lane_h;
    let ticks: Vec<f64> = {
        let step = crate::html::tick_step(end);
        (0..=end / step).map(|i| x_of(i * step, end)).collect()
    };
    let mut data = json!({
        "width": FIG_W, "gutter": GUTTER, "plotW": PLOT_W, "laneH": lane_h, "height": height,
        "span": end / 1000, "lanes": lanes.labels, "ticks": ticks,
    });
    let mode = if ops.len() <= EXACT_OPS {
        let rows: Vec<Json> = ops
            .iter()
            .map(|o| {
                json!([
                    lanes.of[&o.process],
                    o.start / 1000,
                    o.end / 1000,
                    o.status.code().to_string(),
                    o.describe()
                ])
            })
            .collect();
        data["ops"] = Json::Array(rows);
        "ops"
    } else {
        data["cells"] = json!(analysis::rasterize(ops, &lanes, PLOT_W, end));
        "raster"
    };
    data["mode"] = json!(mode);
    if lanes.folded {
        h.push_str("<p class=\"muted\">Too many processes to draw one lane each: each lane is a client, whose successive processes follow one another.</p>");
    }
    if mode == "raster" {
        h.push_str(&format!(
            "<p class=\"muted\">{} operations: each pixel column of a lane shows the worst outcome (info &gt; fail &gt; pending &gt; ok) among the operations that overlap it.</p>",
            ops.len()
        ));
    }
    h.push_str(&format!(
        "<div id=\"timeline\" data-mode=\"{mode}\" data-ops=\"{}\"><canvas id=\"timeline-canvas\" width=\"{FIG_W}\" height=\"{height}\"></canvas>",
        ops.len()
    ));
    for b in &nemesis.bands {
        let x0 = x_of(b.start, end);
        let w = (x_of(b.end, end) - x0).max(1.0);
        h.push_str(&format!(
            "<div class=\"overlay nemesis-band nb-{}\" style=\"left:{x0:.1}px;width:{w:.1}px;background:{}\"></div>",
            b.channel.name(),
            b.channel.color()
        ));
    }
    h.push_str("</div>");
    h.push_str(&format!(
        "<svg width=\"{FIG_W}\" height=\"18\">{}</svg>",
        time_grid(end, 0.0, 2.0, true)
    ));
    h.push_str(&format!(
        "<div id=\"tip\"></div><script type=\"application/json\" id=\"timeline-data\">{}</script>",
        script_json(&data)
    ));
    h.push_str(TIMELINE_JS);
}

/// Draws the timeline from `#timeline-data` on the canvas.
const TIMELINE_JS: &str = r#"<script>(function(){
var D=JSON.parse(document.getElementById('timeline-data').textContent);
var cv=document.getElementById('timeline-canvas'),box=document.getElementById('timeline');
var dpr=window.devicePixelRatio||1,W=D.width,H=D.height,LH=D.laneH;
cv.width=W*dpr;cv.height=H*dpr;cv.style.width=W+'px';cv.style.height=H+'px';
var c=cv.getContext('2d');c.scale(dpr,dpr);
var col={o:'#3fae5a',f:'#d9534f',i:'#f0ad4e',p:'#9aa0a6'};
for(var l=0;l<D.lanes.length;l++){if(l%2){c.fillStyle='#f7f8fa';c.fillRect(D.gutter,l*LH,D.plotW,LH);}}
c.strokeStyle='#e4e7ec';c.lineWidth=1;
D.ticks.forEach(function(x){c.beginPath();c.moveTo(Math.round(x)+.5,0);c.lineTo(Math.round(x)+.5,H);c.stroke();});
function X(t){return D.gutter+t/Math.max(D.span,1)*D.plotW;}
var pad=LH>6?1:0,drawn=0;
if(D.mode==='ops'){
  D.ops.forEach(function(o){var x0=X(o[1]),w=Math.max(1.5,X(o[2])-x0);c.fillStyle=col[o[3]];c.fillRect(x0,o[0]*LH+pad,w,LH-2*pad);drawn++;});
}else{
  D.cells.forEach(function(row,l){var i=0;while(i<row.length){var ch=row[i],j=i+1;while(j<row.length&&row[j]===ch)j++;
    if(ch!==' '){c.fillStyle=col[ch];c.fillRect(D.gutter+i,l*LH+pad,j-i,LH-2*pad);drawn++;}i=j;}});
}
c.fillStyle='#475467';c.font='11px system-ui,sans-serif';c.textAlign='right';c.textBaseline='middle';
if(LH>=9){D.lanes.forEach(function(n,l){c.fillText(n,D.gutter-8,l*LH+LH/2);});}
else{c.fillText(D.lanes.length+' lanes',D.gutter-8,H/2);}
box.setAttribute('data-rendered',String(drawn));
if(D.mode==='ops'){var tip=document.getElementById('tip');
  cv.addEventListener('mousemove',function(e){var r=cv.getBoundingClientRect(),x=e.clientX-r.left,y=e.clientY-r.top;
    var l=Math.floor(y/LH),t=(x-D.gutter)/D.plotW*D.span,hit=null;
    for(var k=0;k<D.ops.length;k++){var o=D.ops[k];if(o[0]===l&&o[1]<=t+D.span/D.plotW&&o[2]>=t-D.span/D.plotW){hit=o;break;}}
    if(hit){tip.style.display='block';tip.style.left=(e.clientX+12)+'px';tip.style.top=(e.clientY+12)+'px';
      tip.textContent=hit[4]+'  ['+(hit[1]/1000).toFixed(1)+'–'+(hit[2]/1000).toFixed(1)+' ms]';}else{tip.style.display='none';}});
  cv.addEventListener('mouseleave',function(){tip.style.display='none';});}
})();</script>"#;

const NODE_COLORS: [&str; 10] = [
    "#4e79a7", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7", "#9c755f", "#bab0ac",
    "#e15759", "#f28e2b",
];

pub(super) fn leadership(h: &mut String, history: &History, bands: &[analysis::Band], end: u64) {
    let lead = analysis::leadership(history, end);
    let mut shards: Vec<u64> = analysis::shards_seen(history).into_iter().collect();
    shards.extend(lead.shards.keys().copied());
    shards.sort_unstable();
    shards.dedup();
    h.push_str("<h2>Leadership per shard</h2>");
    if shards.is_empty() {
        h.push_str("<p class=\"muted\">No trace events.</p>");
        return;
    }
    h.push_str("<div class=\"legend\">");
    for (i, n) in lead.nodes.iter().enumerate() {
        h.push_str(&format!(
            "<span><i style=\"background:{}\"></i>{}</span>",
            NODE_COLORS[i % NODE_COLORS.len()],
            esc(n)
        ));
    }
    h.push_str("<span>bar: node · term of its leadership; shaded: nemesis periods</span></div>");
    let sub_h = if shards.len() > 40 { 8.0 } else { 16.0 };
    let mut y = 0.0;
    let mut body = String::new();
    for s in &shards {
        let rows = lead.rows(*s);
        body.push_str(&format!(
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">shard {s}</text>",
            GUTTER - 8,
            y + sub_h * rows as f64 / 2.0 + 4.0
        ));
        for r in lead.shards.get(s).map(Vec::as_slice).unwrap_or(&[]) {
            let ni = lead.nodes.iter().position(|n| *n == r.node).unwrap_or(0);
            let x0 = x_of(r.start, end);
            let w = (x_of(r.end, end) - x0).max(2.0);
            let ry = y + r.row as f64 * sub_h + 1.0;
            body.push_str(&format!(
                "<rect class=\"reign\" x=\"{x0:.1}\" y=\"{ry:.1}\" width=\"{w:.1}\" height=\"{:.1}\" rx=\"2\" fill=\"{}\"><title>shard {s}: {} leader in term {} from {} to {}{}</title></rect>",
                sub_h - 2.0,
                NODE_COLORS[ni % NODE_COLORS.len()],
                esc(&r.node),
                r.term,
                ms(r.start),
                ms(r.end),
                if r.open { " (end of history)" } else { "" }
            ));
            if w > 40.0 && sub_h >= 12.0 {
                body.push_str(&format!(
                    "<text x=\"{:.1}\" y=\"{:.1}\" style=\"fill:#fff;font-size:10px\">{} · t{}</text>",
                    x0 + 3.0,
                    ry + sub_h - 5.0,
                    esc(&r.node),
                    r.term
                ));
            }
        }
        y += sub_h * rows as f64 + 4.0;
    }
    let height = y + 2.0;
    h.push_str(&format!(
        "<svg id=\"leadership\" width=\"{FIG_W}\" height=\"{:.0}\">{}{}{}</svg>",
        height + 18.0,
        time_grid(end, 0.0, height, true),
        svg_bands(bands, end, 0.0, height),
        body
    ));
}
