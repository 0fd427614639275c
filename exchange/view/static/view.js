// The corridor view: plays a run's entries (events.jsonl) on a virtual clock and draws what they say.
// Every panel is a function of the entries played so far (`state()`), so replay, step and live are one code path.
"use strict";

// Places the map needs, [longitude, latitude], rounded from public maps: the pilot's UN/LOCODEs and the
// waypoints a leg outside the administrations names in its `via` text. An office without a known place is
// drawn at its country's centroid.
const PLACES = {
  UZTAS: [69.28, 41.30], AZALT: [49.41, 39.95], AZRBR: [45.10, 41.31], GERBR: [45.03, 41.35], GEPTI: [41.67, 42.15],
  AZBAK: [49.87, 40.38], GETBS: [44.79, 41.72], UZFER: [71.78, 40.39],
  Farap: [63.62, 39.17], Turkmenbashi: [52.96, 40.02], Tashkent: [69.28, 41.30], Tbilisi: [44.79, 41.72],
  Baku: [49.87, 40.38], Poti: [41.67, 42.15],
};
// ISO 3166 alpha-2 → the numeric ids of world-atlas: the CAREC members and their neighbours.
const NUMERIC = { AF: "004", AM: "051", AZ: "031", CN: "156", GE: "268", IR: "364", KG: "417", KZ: "398", MN: "496",
  PK: "586", RU: "643", TJ: "762", TM: "795", TR: "792", UZ: "860" };
const COLOURS = { UZ: "#2f80c1", AZ: "#1d9a8a", GE: "#c2452d", TM: "#9aa0a6" };
const EXTRA_COLOURS = ["#7a5ea8", "#b5892b", "#3b7d3b", "#a0456e"];
const MOVEMENT_COLOURS = ["#1f5fa8", "#c2452d", "#6a3fa0", "#1d7a46", "#b26a00", "#00838f", "#8e244d"];

const view = { entries: [], played: 0, playing: false, speed: 3600, clock: null, live: false, finished: false,
  timer: null, atlas: null, fresh: new Set() };

const $ = (id) => document.getElementById(id);
const esc = (text) => String(text ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const when = (iso) => iso ? iso.slice(0, 10) + " " + iso.slice(11, 16) : "";
const parseAt = (iso) => new Date(iso.endsWith("Z") ? iso : iso + "Z");

function outline() { return view.entries[0] && view.entries[0].kind === "scenario" ? view.entries[0] : null; }

function colourOf(country) {
  if (COLOURS[country]) return COLOURS[country];
  const known = Object.keys(outline()?.nodes || {}).map((n) => outline().nodes[n].country).filter((c) => !COLOURS[c]);
  return EXTRA_COLOURS[Math.max(0, known.indexOf(country)) % EXTRA_COLOURS.length];
}

// -- what the entries say ----------------------------------------------------------------------------------

function state() {
  const scenario = outline() || { nodes: {}, movements: {} };
  const offices = {}, traders = {};
  for (const [nodeId, node] of Object.entries(scenario.nodes || {})) {
    for (const office of node.offices || []) offices[office.reference] = { ...office, country: node.country, node: nodeId };
    for (const trader of node.traders || []) traders[trader.id] = { ...trader, country: node.country };
  }
  const movements = {}, byReference = {};
  Object.entries(scenario.movements || {}).forEach(([key, m], index) => {
    movements[key] = { key, ...m, colour: MOVEMENT_COLOURS[index % MOVEMENT_COLOURS.length], states: {}, mrn: null,
      last: null, started: false, crossings: {} };
    byReference[m.lrn] = key;
  });
  const guarantees = {};
  for (const node of Object.values(scenario.nodes || {})) {
    for (const g of node.guarantees || []) guarantees[g.grn] = { grn: g.grn, holder: g.holder, currency: g.currency || "USD",
      reference: Number(g.reference_amount), balance: Number(g.reference_amount), office: g.office };
  }
  const messages = [], incidents = [], steps = [];
  let clock = scenario.start || null;
  for (const entry of view.entries.slice(0, view.played)) {
    if (entry.at && (!clock || entry.at > clock)) clock = entry.at;
    if (entry.kind === "step") steps.push(entry);
    if (entry.kind === "step" && entry.do === "present_at_transit" && movements[entry.arguments.movement]) {
      movements[entry.arguments.movement].crossings[entry.arguments.office] = { presented: entry.at };
    }
    if (entry.kind === "message") {
      messages.push(entry);
      const mrn = /MRN (\S+) for LRN (\S+)/.exec(entry.summary || "");
      if (mrn && byReference[mrn[2]]) { byReference[mrn[1]] = byReference[mrn[2]]; movements[byReference[mrn[2]]].mrn = mrn[1]; }
      const key = byReference[entry.correlation];
      if (key) {
        movements[key].started = true;
        if (entry.type === "CD118C") {
          const office = entry.from.replace(/^office /, "");
          movements[key].last = office;
          const crossing = movements[key].crossings[office] || (movements[key].crossings[office] = {});
          crossing.notified = entry.at;
        }
      }
    }
    if (entry.kind === "node-event" && entry.event === "state") {
      const key = byReference[entry.reference];
      const moved = /→ (\w+)/.exec(entry.detail);
      if (key && moved) {
        movements[key].states[entry.agency] = moved[1];
        movements[key].started = true;
        if (!["ATRReceived", "AARReceived"].includes(moved[1])) movements[key].last = entry.agency;
      }
    }
    if (entry.kind === "node-event" && entry.event === "guarantee") {
      const found = /GRN (\S+), balance ([\d,.]+)/.exec(entry.detail);
      if (found && guarantees[found[1]]) guarantees[found[1]].balance = Number(found[2].replace(/,/g, ""));
    }
    if (entry.kind === "node-event" && ["rejected", "refused-by-hub", "not-sent"].includes(entry.event)) {
      incidents.push({ kind: "refusal", mark: "✖", at: entry.at, text: `${entry.agency}: ${entry.detail}` });
    }
    if (entry.kind === "refusal") {
      incidents.push({ kind: "refusal", mark: "✖", at: entry.at,
        text: `hub refused ${entry.message_type || "a request"} from ${entry.sender || entry.peer || "?"}: [${entry.rule}] ${entry.message}` });
    }
    if (entry.kind === "fault") {
      incidents.push({ kind: "fault", mark: "⚠", at: steps.length ? steps[steps.length - 1].at : clock, text: faultText(entry) });
    }
    if (entry.kind === "transport") {
      const marks = { retry: "↻", held: "❚❚", released: "▶", dropped: "↯", duplicated: "⧉", corrupted: "≠" };  // glyphs DejaVu has
      incidents.push({ kind: "fault", mark: marks[entry.event] || "·", at: entry.at, text: `${entry.component}: ${entry.detail}` });
    }
    if (entry.kind === "interrupted") incidents.push({ kind: "fault", mark: "⏹", at: entry.at, text: "run interrupted here" });
    if (entry.kind === "step-failed" || entry.kind === "step-declined") {  // the run stopped there, or a system declined
      incidents.push({ kind: "refusal", mark: "✖", at: steps.length ? steps[steps.length - 1].at : clock, text: entry.detail });
    }
  }
  if (endsUnclosed()) {
    incidents.push({ kind: "fault", mark: "⏹", at: clock,
      text: "the run's record ends here without its closing entry: the run was killed, or its process is still going" });
  }
  return { scenario, offices, traders, movements, guarantees, messages, incidents, steps, clock };
}

// A finished run's record, replayed to its end, that has no closing entry (the driver's totals) and says nothing of
// how it stopped (interrupted, a step that failed): its process was killed. Live, the end has not come yet.
function endsUnclosed() {
  if (view.live || view.played < view.entries.length) return false;
  return !view.entries.some((entry) => ["driver", "interrupted", "step-failed"].includes(entry.kind));
}

// A scripted fault as the scenario states it, with the window the fault plan gives it.
function faultText(entry) {
  const a = entry.arguments || {};
  if (entry.action === "restart") return `${a.target} stops and starts again (same store, same port)`;
  if (entry.action !== "fault") return `healed: ${Object.entries(a).map(([k, v]) => `${k} ${v}`).join(", ") || "everything"}`;
  const planned = (entry.plan || []).find((f) => f.id === `steps[${entry.index}]`) || {};
  const where = planned.node || (planned.link ? `${planned.link.sender}→${planned.link.recipient}` : a.node || "");
  const window = planned.until ? `${when(planned.start)} → ${when(planned.until)}` : planned.count ? `next ${planned.count} message(s)` : "";
  const label = { offline: "offline window", drop: "messages lost", duplicate: "duplicates", corrupt: "corrupted messages",
    delay: "delayed", reorder: "reordered" }[planned.kind || a.kind] || planned.kind || a.kind;
  return `${label}: ${where}${planned.leg ? ` (${planned.leg})` : ""}${window ? ", " + window : ""}`;
}

// -- drawing ------------------------------------------------------------------------------------------------

function render() {
  const s = state();
  const scenario = s.scenario;
  $("title").textContent = scenario.title || "caravan";
  $("subtitle").textContent = scenario.scenario ? `scenario ${scenario.scenario}` : "";
  $("clock").textContent = s.clock ? when(s.clock) + " UTC" : "—";
  const finished = view.played >= view.entries.length && (view.finished || !view.live);
  const share = finished ? 1 : s.steps.length / Math.max(1, scenario.steps || 1);
  $("progress-bar").style.width = `${100 * share}%`;
  $("progress-text").textContent = `${s.steps.length}/${scenario.steps ?? "?"} steps · ${s.messages.length} messages`;
  $("play").textContent = view.playing ? "❚❚" : "▶";
  $("mode").textContent = view.live ? (view.finished ? "live · finished" : "● live") : "replay";
  $("mode").className = view.live && !view.finished ? "mode live" : "mode";
  drawMap(s);
  drawCards(s);
  drawGuarantees(s);
  drawLanes(s);
  drawIncidents(s);
  drawBaseline(s);
}

// Offices a few kilometres apart (Poti and Red Bridge at this scale, a corridor's crossings) would print their
// labels over each other, over each other's dots and over the countries' names. From the top down, each label
// takes the first place around its dot that meets none of those nor a label already placed: its own place first,
// then right or left of the dot, a line further down or up each time. One moved away from its dot gets a leader.
function placeLabels(texts, obstacles) {
  const boxOf = (element) => {  // in the map's coordinates: the element's own box, moved and scaled as it is drawn
    const b = element.getBBox(), m = element.getCTM();
    return { x: m.a * b.x + m.e, y: m.d * b.y + m.f, w: m.a * b.width, h: m.d * b.height };
  };
  const meets = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
  const placed = obstacles.map(boxOf);
  const put = (text, [anchor, x, y]) => {
    text.setAttribute("text-anchor", anchor); text.setAttribute("x", x); text.setAttribute("y", y);
    text.setAttribute("dx", 0);
  };
  for (const text of texts.slice().sort((a, b) => boxOf(a).y - boxOf(b).y)) {
    const own = [text.getAttribute("text-anchor"), Number(text.getAttribute("x")) + Number(text.getAttribute("dx") || 0),
                 Number(text.getAttribute("y"))];
    const line = 13;
    const places = [own];
    for (let step = 0; step <= 8; step++) {
      for (const y of step ? [4 + step * line, 4 - step * line] : [4]) places.push(["start", 11, y], ["end", -11, y]);
    }
    const free = places.find((place) => { put(text, place); return !placed.some((other) => meets(boxOf(text), other)); });
    put(text, free || own);
    placed.push(boxOf(text));
    const [, x, y] = free || own;
    if (Math.abs(y - own[2]) > 2 * line) {
      d3.select(text.parentNode).insert("line", "text").attr("class", "leader")
        .attr("x1", 0).attr("y1", 0).attr("x2", x).attr("y2", y - 4);
    }
  }
}

function placeOf(office, offices, centroids) {
  const entry = offices[office];
  if (entry && entry.unlocode && PLACES[entry.unlocode]) return PLACES[entry.unlocode];
  if (entry && centroids[entry.country]) {
    const [x, y] = centroids[entry.country];
    return [x + 0.6, y - 0.6];
  }
  return null;
}

function drawMap(s) {
  const svg = d3.select("#map");
  const width = svg.node().clientWidth || 800, height = svg.node().clientHeight || 400;
  svg.attr("viewBox", `0 0 ${width} ${height}`);
  if (!view.atlas) return;
  const countries = new Set(Object.values(s.scenario.nodes || {}).map((n) => n.country));
  const crossed = new Set();
  for (const m of Object.values(s.movements)) for (const c of m.route || []) crossed.add(c);
  const features = topojson.feature(view.atlas, view.atlas.objects.countries).features;
  const shown = features.filter((f) => [...countries, ...crossed].some((c) => NUMERIC[c] === f.id));
  const centroidsFirst = {};
  for (const [alpha, numeric] of Object.entries(NUMERIC)) {
    const f = features.find((x) => x.id === numeric);
    if (f) centroidsFirst[alpha] = d3.geoCentroid(f);
  }
  // frame the places the run touches (offices, waypoints), not whole countries: AZ and GE stay readable
  const points = Object.keys(s.offices).map((o) => placeOf(o, s.offices, centroidsFirst)).filter(Boolean);
  for (const m of Object.values(s.movements)) {
    for (const name of Object.keys(PLACES)) if ((m.leg_outside?.via || "").includes(name)) points.push(PLACES[name]);
  }
  const frame = points.length > 1 ? { type: "MultiPoint", coordinates: points }
    : { type: "FeatureCollection", features: shown.length ? shown : features };
  const projection = d3.geoMercator().fitExtent([[170, 60], [width - 200, height - 60]], frame);
  const path = d3.geoPath(projection);
  const centroids = {};
  for (const [alpha, numeric] of Object.entries(NUMERIC)) {
    const f = features.find((x) => x.id === numeric);
    if (f) centroids[alpha] = d3.geoCentroid(f);
  }
  const alphaOf = Object.fromEntries(Object.entries(NUMERIC).map(([a, n]) => [n, a]));
  svg.selectAll("*").remove();
  svg.append("g").selectAll("path").data(features).join("path").attr("class", "country").attr("d", path)
    .attr("fill", (f) => countries.has(alphaOf[f.id]) ? colourOf(alphaOf[f.id]) + "55"
      : crossed.has(alphaOf[f.id]) ? "#c9ccd1" : "#eceae4");
  svg.append("g").selectAll("text").data(features.filter((f) => countries.has(alphaOf[f.id]) || crossed.has(alphaOf[f.id])))
    .join("text").attr("class", "country-label").attr("text-anchor", "middle")
    .attr("transform", (f) => { const [x, y] = projection(d3.geoCentroid(f)); return `translate(${x},${y + 28})`; })
    .text((f) => `${alphaOf[f.id]} ${countries.has(alphaOf[f.id]) ? "" : "(outside)"}`.trim());
  const routes = svg.append("g");
  Object.values(s.movements).forEach((m, index) => {
    const stops = [m.departure, ...(m.transit || []).map((t) => t.office), m.destination];
    const offset = (index - 2) * 2.2;
    for (let i = 0; i < stops.length - 1; i++) {
      const from = placeOf(stops[i], s.offices, centroids), to = placeOf(stops[i + 1], s.offices, centroids);
      if (!from || !to) continue;
      const leg = m.leg_outside;
      const outside = leg && ((leg.from === stops[i] && leg.to === stops[i + 1]) || (leg.to === stops[i] && leg.from === stops[i + 1]));
      let points = [from, to];
      if (outside) {
        const via = Object.keys(PLACES).filter((name) => (leg.via || "").includes(name))
          .sort((a, b) => leg.via.indexOf(a) - leg.via.indexOf(b)).map((name) => PLACES[name]);
        points = leg.from === stops[i] ? [from, ...via, to] : [from, ...via.reverse(), to];
      } else if (!leg && (m.route || []).some((c) => !countries.has(c)) && stops[i].slice(0, 2) !== stops[i + 1].slice(0, 2)) {
        const gap = (m.route || []).filter((c) => !countries.has(c)).map((c) => centroids[c]).filter(Boolean);
        if (gap.length && (stops[i].slice(0, 2) === "UZ" || stops[i + 1].slice(0, 2) === "UZ")) points = [from, ...gap, to];
      }
      routes.append("path").attr("class", `route${outside || points.length > 2 ? " outside" : ""}`)
        .attr("stroke", m.colour).attr("d", d3.line().curve(d3.curveCatmullRom)(points.map((p) => {
          const [x, y] = projection(p); return [x, y + offset]; })))
        .attr("data-movement", m.key).append("title").text(`${m.key}: ${m.title || ""}`);
    }
  });
  const officeGroup = svg.append("g").selectAll("g").data(Object.values(s.offices)).join("g").attr("class", "office")
    .attr("transform", (o) => { const p = placeOf(o.reference, s.offices, centroids); const [x, y] = projection(p); return `translate(${x},${y})`; });
  officeGroup.append("circle").attr("r", (o) => (o.unlocode ? 8 : 5)).attr("fill", (o) => colourOf(o.country));
  // only the places goods pass are labelled (guarantee offices have no place); AZ/GE pairs share a crossing
  const officeLabels = officeGroup.filter((o) => o.unlocode).append("text").attr("x", 11)
    .attr("y", (o) => (o.country === "GE" ? -9 : 17)).attr("text-anchor", (o) => (o.country === "GE" ? "end" : "start"))
    .attr("dx", (o) => (o.country === "GE" ? -14 : 0)).text((o) => `${o.reference} ${(o.name || "").split(/[ (\-]/)[0]}`);
  placeLabels(officeLabels.nodes(), [...officeGroup.selectAll("circle").nodes(), ...svg.selectAll(".country-label").nodes()]);
  officeGroup.append("title").text((o) => `${o.reference} ${o.name || ""} (${(o.roles || []).join(", ")})`);
  const here = Object.values(s.movements).filter((m) => m.last);
  const stacked = (m) => here.filter((other) => other.last === m.last).indexOf(m);  // movements at one office stack up
  const markers = svg.append("g").selectAll("g").data(here)
    .join("g").attr("class", "marker")
    .attr("transform", (m) => { const p = placeOf(m.last, s.offices, centroids); const [x, y] = projection(p);
      return `translate(${x + 18 + 24 * stacked(m)},${y - 24})`; });
  markers.append("circle").attr("r", 13).attr("fill", (m) => m.colour);
  markers.append("text").attr("text-anchor", "middle").attr("dy", 4).text((m) => m.key);
  $("map-legend").innerHTML = Object.values(s.movements).map((m) =>
    `<span><b style="color:${m.colour}">━</b> ${esc(m.key)}</span>`).join("") +
    `<span><b style="color:var(--outside)">┅</b> leg outside the administrations</span>`;
}

const TONE = { Rejected: "bad", NotReleased: "bad", DiscrepanciesPending: "warn", GuaranteeUnderAmendment: "warn",
  WrittenOff: "good", GoodsReleased: "good", Passed: "good", Released: "good", Arrived: "good" };

function drawCards(s) {
  $("cards").innerHTML = Object.values(s.movements).map((m) => {
    const stops = [[m.departure, "departure"], ...(m.transit || []).map((t) => [t.office, "transit"]), [m.destination, "destination"]];
    const chips = stops.map(([office, role]) => {
      const st = m.states[office];
      return `<span class="chip ${TONE[st] || ""}" title="${esc(role)}">${esc(office)} <b>${esc(st || "—")}</b></span>`;
    }).join("");
    const states = Object.values(m.states);
    const tone = states.some((x) => TONE[x] === "bad") ? "bad" : states.some((x) => TONE[x] === "warn") ? "warn"
      : m.states[m.departure] === "WrittenOff" ? "done" : m.started ? "" : "idle";
    const g = m.guarantee || {};
    return `<div class="card ${tone}" data-movement="${esc(m.key)}"><h3 style="color:${m.colour}">${esc(m.key)}</h3>
      <div class="what">${esc(m.title || "")}</div>
      <div class="ref">LRN ${esc(m.lrn)}${m.mrn ? " · MRN " + esc(m.mrn) : ""}</div>
      <div class="ref">guarantee ${esc(g.grn || "")} · ${esc(g.amount || "")} ${esc(g.currency || "")}</div>
      <div class="offices">${chips}</div></div>`;
  }).join("") || `<p class="empty">no movements in this scenario</p>`;
}

function drawGuarantees(s) {
  const rows = Object.values(s.guarantees).map((g) => `<tr><td>${esc(g.grn)}<br><small>${esc(s.traders[g.holder]?.name || g.holder)}</small></td>
    <td class="num">${g.balance.toLocaleString("en-US", { minimumFractionDigits: 2 })} ${esc(g.currency)}</td>
    <td><div class="bar"><div style="width:${(100 * g.balance) / (g.reference || 1)}%"></div></div>
    <small>of ${g.reference.toLocaleString("en-US")} available</small></td></tr>`).join("");
  $("guarantees").innerHTML = rows ? `<table>${rows}</table>` : `<p class="empty">no guarantees</p>`;
}

// A party's country is that of the node whose envelope carried its message (a trader lodges at its own node).
function partyCountries(s) {
  const nodes = s.scenario.nodes || {}, countries = {};
  for (const m of s.messages) {
    countries[m.from] = countries[m.from] || nodes[m.sender]?.country || m.sender.toUpperCase();
    countries[m.to] = countries[m.to] || nodes[m.recipient]?.country || m.recipient.toUpperCase();
  }
  return countries;
}

function drawLanes(s) {
  const countryOf = partyCountries(s);
  const partyCountry = (label) => countryOf[label];
  const labels = [];
  for (const m of s.messages) for (const label of [m.from, m.to]) if (label && !labels.includes(label)) labels.push(label);
  const order = { trader: 0, office: 1, customs: 2, NPPO: 3, hub: 4 };
  const countries = Object.values(s.scenario.nodes || {}).map((n) => n.country);
  labels.sort((a, b) => countries.indexOf(partyCountry(a)) - countries.indexOf(partyCountry(b))
    || (order[a.split(" ")[0]] ?? 9) - (order[b.split(" ")[0]] ?? 9) || a.localeCompare(b));
  const box = $("lanes");
  const width = box.clientWidth - 18 || 900, left = 110, row = 30;
  const lane = (width - left) / Math.max(1, labels.length);
  const x = (label) => left + lane * (labels.indexOf(label) + 0.5);
  $("lane-heads").style.gridTemplateColumns = `${left}px repeat(${labels.length}, ${lane}px)`;
  $("lane-heads").innerHTML = `<div style="background:#5b6875">time</div>` + labels.map((label) => {
    const [kind, code] = label.split(" ");
    const name = kind === "trader" ? s.traders[code]?.name : kind === "office" ? s.offices[code]?.name : "";
    return `<div style="background:${colourOf(partyCountry(label))}" title="${esc(label)} ${esc(name || "")}">${esc(kind)}<br><b>${esc(code || "")}</b></div>`;
  }).join("");
  const svg = d3.create("svg").attr("width", width).attr("height", Math.max(60, s.messages.length * row + 16));
  labels.forEach((label) => svg.append("line").attr("class", "lane-line").attr("x1", x(label)).attr("x2", x(label))
    .attr("y1", 0).attr("y2", s.messages.length * row + 16));
  s.messages.forEach((m, i) => {
    const y = i * row + 20;
    const g = svg.append("g").attr("class", `msg${view.fresh.has(m.seq) ? " new" : ""}${m.delivery !== "delivered" ? " refusal" : ""}`)
      .attr("data-file", m.file).attr("data-type", m.type).on("click", () => openDocument(m));
    g.append("rect").attr("class", "hit").attr("x", 0).attr("y", y - 15).attr("width", width).attr("height", row).attr("fill", "transparent");
    g.append("text").attr("class", "time").attr("x", 6).attr("y", y + 4).text(when(m.at).slice(5));
    const x1 = x(m.from), x2 = x(m.to), colour = colourOf(partyCountry(m.from));
    if (x1 === x2) {
      g.append("path").attr("d", `M${x1},${y - 6} h22 v12 h-20`).attr("fill", "none").attr("stroke", colour).attr("stroke-width", 2.2);
    } else {
      g.append("line").attr("x1", x1).attr("x2", x2 - Math.sign(x2 - x1) * 7).attr("y1", y).attr("y2", y).attr("stroke", colour);
      g.append("path").attr("d", `M${x2},${y} l${-Math.sign(x2 - x1) * 9},-5 v10 z`).attr("fill", colour);
    }
    const label = `${m.type} ${m.name}`, half = label.length * 3.7;  // about 7.4 px a character at 13 px
    const mid = x1 === x2 ? Math.min(x1 + 28, width - 2 * half) : Math.min(Math.max((x1 + x2) / 2, left + half), width - half);
    g.append("text").attr("x", mid).attr("y", y - 4).attr("text-anchor", x1 === x2 ? "start" : "middle")
      .text(label).append("title").text(`${m.from} → ${m.to}\n${m.summary}`);
  });
  const follow = box.scrollTop + box.clientHeight >= box.scrollHeight - 40;
  box.replaceChildren(svg.node());
  if (follow || view.playing || view.live) box.scrollTop = box.scrollHeight;
}

function drawIncidents(s) {
  $("incidents").innerHTML = s.incidents.map((i) => `<li class="${i.kind}"><time>${esc(when(i.at))}</time>
    <span class="mark">${esc(i.mark)} ${i.kind === "fault" ? "fault" : "refused"}</span>${esc(i.text)}</li>`).join("")
    || `<li class="empty">none so far</li>`;
}

function hours(a, b) { return (parseAt(b) - parseAt(a)) / 3600000; }
function duration(h) { const m = Math.round(h * 60); return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`; }

function drawBaseline(s) {
  const baseline = s.scenario.baseline;
  if (!baseline) { $("baseline").innerHTML = `<p class="empty">this scenario states no paper-procedure baseline</p>`; return; }
  const rows = baseline.crossings.map((c) => {
    const paper = Number(c.hours);
    const runs = Object.values(s.movements).map((m) => [m, m.crossings[c.office]]).filter(([, x]) => x && x.presented && x.notified);
    const measured = runs.map(([m, x]) => `${esc(m.key)} ${duration(hours(x.presented, x.notified))}`).join("<br>") || "<span class='empty'>not crossed yet</span>";
    return `<tr><td><b>${esc(c.office)}</b> ${esc(s.offices[c.office]?.name || "")}<br><small>${esc(c.basis)}</small></td>
      <td class="num">${duration(paper)}</td><td class="num">${measured}</td></tr>`;
  }).join("");
  $("baseline").innerHTML = `<table><tr><th>crossing</th><th class="num">paper</th><th class="num">this run, paperless</th></tr>${rows}</table>
    <p class="source">Paperless: from presentation at the office to the crossing notified to the office of departure; the
    transit record arrived before the goods. Paper: ${esc(baseline.title || "")}. Source: ${esc(baseline.source)}.</p>`;
}

// -- playing ------------------------------------------------------------------------------------------------

function nextTime(index) {
  for (let i = index; i < view.entries.length; i++) if (view.entries[i].at) return view.entries[i].at;
  return null;
}

function advance(toClock) {
  const before = view.played;
  while (view.played < view.entries.length) {
    const entry = view.entries[view.played];
    if (entry.at && toClock && entry.at > toClock) break;
    view.played += 1;
  }
  markFresh(before);
}

function markFresh(before) {
  view.fresh = new Set(view.entries.slice(before, view.played).filter((e) => e.kind === "message").map((e) => e.seq));
}

function tick() {
  if (!view.playing) return;
  const next = nextTime(view.played);
  if (next === null) { advance(null); view.playing = !view.live ? false : view.playing; render(); return; }
  const clock = view.clock ? new Date(parseAt(view.clock).getTime() + view.speed * 250) : parseAt(next);
  // skip long quiet stretches: never wait more than a second of real time for the next entry
  const target = parseAt(next) - clock > view.speed * 1000 ? parseAt(next) : clock;
  view.clock = target.toISOString().slice(0, 19) + "Z";
  advance(view.clock);
  render();
}

function step() {
  const before = view.played;
  view.played = Math.min(view.entries.length, view.played + 1);
  while (view.played < view.entries.length && view.entries[view.played].kind !== "step"
         && view.entries[view.played].kind !== "expectation") view.played += 1;
  view.clock = nextTime(Math.max(0, view.played - 1)) || view.clock;
  markFresh(before);
  render();
}

function togglePlay() {
  view.playing = !view.playing;
  if (view.playing && view.played >= view.entries.length && !view.live) { view.played = 1; view.clock = null; }
  render();
}

async function start() {
  $("play").onclick = togglePlay;
  $("step").onclick = () => { view.playing = false; step(); };
  $("restart").onclick = () => { view.played = 1; view.clock = null; view.fresh = new Set(); render(); };
  $("speed").onchange = (e) => { view.speed = Number(e.target.value); };
  $("doc-close").onclick = () => $("document").close();
  $("doc-raw").onclick = () => { const raw = $("doc-xml"); raw.hidden = !raw.hidden; $("doc-body").hidden = !raw.hidden;
    $("doc-raw").textContent = raw.hidden ? "raw XML" : "document"; };
  const [atlas, listing] = await Promise.all([
    fetch("/static/vendor/countries-110m.json").then((r) => r.json()),
    fetch("/api/entries").then((r) => r.json()),
  ]);
  view.atlas = atlas;
  view.entries = listing.entries;
  view.finished = listing.finished;
  view.live = !listing.finished;
  view.played = view.live ? view.entries.length : Math.min(1, view.entries.length);
  const params = new URLSearchParams(location.search);
  if (params.get("speed")) view.speed = Number(params.get("speed"));
  if (view.live) follow();
  if (params.has("autoplay")) view.playing = true;
  setInterval(tick, 250);
  render();
  document.body.dataset.ready = "true";
}

function follow() {
  const stream = new EventSource(`/api/stream?after=${view.entries.length}`);
  stream.onmessage = (event) => {
    const before = view.played;
    view.entries.push(JSON.parse(event.data));
    view.played = view.entries.length;
    view.clock = nextTime(0) && view.entries.filter((e) => e.at).map((e) => e.at).sort().pop();
    markFresh(before);
    render();
  };
  stream.addEventListener("finished", () => { view.finished = true; stream.close(); render(); });
}

window.addEventListener("resize", () => render());
start();
