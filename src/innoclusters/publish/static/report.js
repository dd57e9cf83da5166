/* innoclusters report: map (Leaflet), search, card, ranking table and charts.
 *
 * Every string from the data is put into the page with textContent, never innerHTML.
 * Nothing here makes a request: there is no tile layer, no image, no fetch.
 *
 * Other report pieces (for example rank intervals) may use window.innoclusters:
 *   innoclusters.select(index)     select a cluster (row of data.clusters) and open its card
 *   innoclusters.onCard.push(fn)   fn(card element, cluster, index) runs after a card is built
 *   innoclusters.data              the page's data block
 */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("inno-data").textContent);
  var clusters = data.clusters;
  var meta = data.meta;
  var TOP = meta.top;
  var api = { data: data, onCard: [], select: null };
  window.innoclusters = api;

  function num(value, decimals) {
    if (value === null || value === undefined || value === "") return "";
    return Number(value).toLocaleString("en-US", {
      minimumFractionDigits: decimals, maximumFractionDigits: decimals
    });
  }
  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  // ---- folding, as the gazetteer folds names (innoclusters.places: lower case, no marks) --
  var FOLD = [["ß", "ss"], ["ł", "l"], ["ø", "o"], ["æ", "ae"], ["œ", "oe"], ["đ", "d"],
    ["ð", "d"], ["þ", "th"], ["ı", "i"], ["ħ", "h"]];
  function fold(text) {
    var s = String(text).normalize("NFKD").replace(/\p{M}+/gu, "").toLowerCase();
    FOLD.forEach(function (f) { s = s.split(f[0]).join(f[1]); });
    s = s.replace(/['’‘`´ʻʼ]+/g, "").replace(/[^\p{L}\p{N}]+/gu, " ");
    return s.trim();
  }
  // German transliteration written out (Muenchen, Koeln, Duesseldorf) folds to the same key.
  function foldVariants(text) {
    var raw = String(text);
    var a = fold(raw);
    var b = fold(raw.replace(/ae/gi, "a").replace(/oe/gi, "o").replace(/ue/gi, "u"));
    return a === b ? [a] : [a, b];
  }

  // ---- colours: darker and larger for a higher score ---------------------------------------
  var maxScore = 0;
  clusters.forEach(function (c) { if (c.score > maxScore) maxScore = c.score; });
  var RAMP = ["#fdd49e", "#fdbb84", "#fc8d59", "#ef6548", "#d7301f", "#b30000", "#7f0000"];
  function colour(c) {
    var t = maxScore > 0 ? Math.sqrt(Math.max(c.score, 0) / maxScore) : 0;
    return RAMP[Math.min(RAMP.length - 1, Math.floor(t * RAMP.length))];
  }
  function radius(c) {
    return maxScore > 0 ? 3 + 13 * Math.sqrt(Math.max(c.score, 0) / maxScore) : 4;
  }

  // ---- map ----------------------------------------------------------------------------------
  var map = L.map("map", {
    worldCopyJump: false, minZoom: 1, maxZoom: 13, zoomSnap: 0.5, attributionControl: false,
    maxBounds: [[-85, -400], [85, 400]], keyboard: true
  }).setView([25, 10], 2);
  function pane(name, z) { map.createPane(name); map.getPane(name).style.zIndex = z; return name; }
  pane("land", 200); pane("noise", 390); pane("emergingFoot", 400); pane("topFoot", 405);
  pane("emergingDots", 420); pane("topDots", 430); pane("highlight", 440); pane("labels", 650);
  map.getPane("labels").setAttribute("aria-hidden", "true");

  // Natural Earth rings that cross the antimeridian jump from 180 to -180 (Russia, Fiji,
  // Antarctica); unwrap them and draw a copy a world away, so no band crosses the map.
  function unwrap(ring) {
    var off = 0, out = [[ring[0][0], ring[0][1]]];
    for (var r = 1; r < ring.length; r++) {
      var d = ring[r][0] - ring[r - 1][0];
      if (d > 180) off -= 360; else if (d < -180) off += 360;
      out.push([ring[r][0] + off, ring[r][1]]);
    }
    return out;
  }
  function shift(poly, dx) {
    return poly.map(function (ring) { return ring.map(function (p) { return [p[0] + dx, p[1]]; }); });
  }
  var topo = data.countries;
  var land = topojson.feature(topo, topo.objects.countries);
  land.features.forEach(function (f) {
    var g = f.geometry;
    if (!g) return;
    var polys = g.type === "Polygon" ? [g.coordinates] : g.type === "MultiPolygon" ? g.coordinates : null;
    if (!polys) return;
    var out = [];
    polys.forEach(function (poly) {
      var u = poly.map(unwrap);
      var lo = Infinity, hi = -Infinity;
      u[0].forEach(function (p) { if (p[0] < lo) lo = p[0]; if (p[0] > hi) hi = p[0]; });
      out.push(u);
      if (hi > 180.01) out.push(shift(u, -360));
      if (lo < -180.01) out.push(shift(u, 360));
    });
    f.geometry = { type: "MultiPolygon", coordinates: out };
  });
  L.geoJSON(land, {
    pane: "land", renderer: L.canvas({ pane: "land" }), interactive: false, noClip: true,
    style: { color: "#8e9aa6", weight: 0.7, fillColor: "#f4f1ea", fillOpacity: 1 }
  }).addTo(map);

  var noiseLayer = null;  // made when first switched on
  function makeNoise() {
    noiseLayer = L.layerGroup();
    var noiseRenderer = L.canvas({ pane: "noise" });
    for (var n = 0; n < data.noise.lat.length; n++) {
      L.circleMarker([data.noise.lat[n], data.noise.lon[n]], {
        pane: "noise", renderer: noiseRenderer, radius: 2, stroke: false,
        fillColor: "#3b4550", fillOpacity: 0.45, interactive: false
      }).addTo(noiseLayer);
    }
    return noiseLayer;
  }

  var footOf = {};
  data.footprints.features.forEach(function (f) { footOf[f.id] = f; });
  var topLayer = L.layerGroup().addTo(map);
  var emergingLayer = L.layerGroup();
  var topFootR = L.svg({ pane: "topFoot" }), emFootR = L.svg({ pane: "emergingFoot" });
  var topDotR = L.svg({ pane: "topDots" }), emDotR = L.svg({ pane: "emergingDots" });
  var dots = [];
  // Lowest rank first, so the biggest clusters are drawn last, on top.
  for (var k = clusters.length - 1; k >= 0; k--) {
    (function (i) {
      var c = clusters[i];
      var isTop = i < TOP;
      var group = isTop ? topLayer : emergingLayer;
      var f = footOf[i];
      if (f) {
        L.geoJSON(f, {
          pane: isTop ? "topFoot" : "emergingFoot", renderer: isTop ? topFootR : emFootR, noClip: true,
          style: { color: "#5a1a00", weight: 0.8, fillColor: colour(c), fillOpacity: 0.55 }
        }).on("click", function () { select(i, { from: "map" }); }).addTo(group);
      }
      if (c.lat !== null && c.lon !== null) {
        var dot = L.circleMarker([c.lat, c.lon], {
          pane: isTop ? "topDots" : "emergingDots", renderer: isTop ? topDotR : emDotR,
          radius: isTop ? radius(c) : 3, color: "#fff", weight: 1, fillColor: colour(c),
          fillOpacity: isTop ? 0.95 : 0.7, className: "dot dot-" + i
        }).on("click", function () { select(i, { from: "map" }); }).addTo(group);
        dots[i] = dot;
      }
    })(k);
  }
  var highlight = null;

  // ---- labels: top clusters by rank, then places, dropped where they would overlap -------
  var labelPane = map.getPane("labels");
  var clusterLabels = [];
  function makeClusterLabel(i) {
    var c = clusters[i];
    var node = el("div", null, "cluster-label" + (i < TOP ? "" : " emerging"));
    node.appendChild(el("span", c.rank, "r"));
    node.appendChild(document.createTextNode(c.name));
    // With a previous edition: entrants to the top are tagged, and so are exits still found.
    if (c.previous_rank !== undefined) {
      if (i < TOP && (c.previous_rank === null || c.previous_rank > TOP)) {
        node.appendChild(el("span", "new", "tag entrant"));
      } else if (i >= TOP && c.previous_rank !== null && c.previous_rank <= TOP) {
        node.appendChild(el("span", "out of the top " + TOP, "tag exit"));
      }
    }
    node.dataset.index = String(i);
    node.addEventListener("click", function (e) { e.stopPropagation(); select(i, { from: "map" }); });
    L.DomEvent.disableClickPropagation(node);
    return node;
  }
  clusters.forEach(function (c, i) {
    if (c.lat === null || c.lon === null) return;
    clusterLabels.push({ i: i, node: null, w: 0, h: 0 });
  });
  var L_ = data.labels;
  var placeOn = document.getElementById("layer-places");
  var emergingOn = document.getElementById("layer-emerging");

  function overlaps(r, boxes) {
    for (var b = 0; b < boxes.length; b++) {
      var o = boxes[b];
      if (r.x < o.x + o.w && o.x < r.x + r.w && r.y < o.y + o.h && o.y < r.y + r.h) return true;
    }
    return false;
  }
  // Labels are created when first needed, all at once, then measured in one pass (reading a
  // size right after adding an element would lay the page out again for every label).
  function measure(items) {
    if (!items.length) return;
    var frag = document.createDocumentFragment();
    items.forEach(function (it) { frag.appendChild(it.node); });
    labelPane.appendChild(frag);
    items.forEach(function (it) { it.w = it.node.offsetWidth; it.h = it.node.offsetHeight; });
  }
  var placeItems = [];
  function layoutLabels() {
    var size = map.getSize();
    var zoom = map.getZoom();
    var boxes = [];
    var shown = 0;
    var fresh = [];
    var candidates = [];
    clusterLabels.forEach(function (item) {
      var i = item.i;
      var c = clusters[i];
      var wanted = i < TOP || emergingOn.checked;
      var p = map.latLngToContainerPoint([c.lat, c.lon]);
      var inView = p.x > -50 && p.y > -20 && p.x < size.x + 50 && p.y < size.y + 20;
      if (!wanted || !inView) { if (item.node) item.node.hidden = true; return; }
      if (!item.node) { item.node = makeClusterLabel(i); fresh.push(item); }
      candidates.push([item, p]);
    });
    var places = [];
    if (placeOn.checked) {
      for (var j = 0; j < L_.name.length && places.length < 600; j++) {
        if (L_.zoom[j] > zoom) continue;
        var q = map.latLngToContainerPoint([L_.lat[j], L_.lon[j]]);
        if (q.x < 0 || q.y < 0 || q.x > size.x || q.y > size.y) continue;
        var it = placeItems[j];
        if (!it) {
          it = placeItems[j] = { node: el("div", L_.name[j], "place-label" + (L_.zoom[j] <= 4 ? " big" : "")), w: 0, h: 0 };
          fresh.push(it);
        }
        places.push([it, q]);
      }
    }
    measure(fresh);
    var visible = new Set();
    candidates.forEach(function (x) {
      var item = x[0], p = x[1], c = clusters[item.i];
      var r0 = (item.i < TOP ? radius(c) : 3) + 2;
      var box = { x: p.x + r0, y: p.y - item.h / 2, w: item.w, h: item.h };
      if (box.x + box.w > size.x) box.x = p.x - r0 - item.w;  // flip left at the right edge
      if (overlaps(box, boxes)) { item.node.hidden = true; return; }
      boxes.push(box);
      L.DomUtil.setPosition(item.node, map.containerPointToLayerPoint([box.x, box.y]));
      item.node.hidden = false;
      shown += 1;
    });
    places.forEach(function (x) {
      var it = x[0], q = x[1];
      var pb = { x: q.x - 3, y: q.y - it.h / 2, w: it.w, h: it.h };
      if (visible.size >= 400 || overlaps(pb, boxes)) { it.node.hidden = true; return; }
      boxes.push(pb);
      L.DomUtil.setPosition(it.node, map.containerPointToLayerPoint([pb.x, pb.y]));
      it.node.hidden = false;
      visible.add(it);
    });
    placeItems.forEach(function (it) { if (it && !visible.has(it)) it.node.hidden = true; });
    labelPane.dataset.clusterLabels = String(shown);
  }
  map.on("zoomend moveend resize viewreset", layoutLabels);
  placeOn.addEventListener("change", layoutLabels);
  emergingOn.addEventListener("change", function () {
    if (emergingOn.checked) emergingLayer.addTo(map); else map.removeLayer(emergingLayer);
    layoutLabels();
    filterTable();
  });
  var noiseOn = document.getElementById("layer-noise");
  noiseOn.addEventListener("change", function () {
    if (noiseOn.checked) (noiseLayer || makeNoise()).addTo(map);
    else if (noiseLayer) map.removeLayer(noiseLayer);
  });

  // ---- card ---------------------------------------------------------------------------------
  var card = document.getElementById("card");
  var cardHint = document.getElementById("card-hint");
  var selected = null;
  function clearSelection() {
    if (highlight) { map.removeLayer(highlight); highlight = null; }
    document.querySelectorAll("#ranking-table tbody tr.selected").forEach(function (r) {
      r.classList.remove("selected");
    });
    document.querySelectorAll(".cluster-label.selected").forEach(function (r) {
      r.classList.remove("selected");
    });
    selected = null;
  }
  function closeCard() {
    card.replaceChildren(cardHint);
    delete card.dataset.clusterId;
    delete card.dataset.index;
    clearSelection();
  }
  function kvRow(table, key, value, cls) {
    var tr = document.createElement("tr");
    tr.appendChild(el("th", key, "kv"));
    tr.appendChild(el("td", value, cls));
    table.appendChild(tr);
  }
  function metricName(m) { return meta.metric_labels[m] || m; }

  function buildCard(index) {
    var c = clusters[index];
    card.replaceChildren();
    var close = el("button", "×", "close");
    close.type = "button";
    close.setAttribute("aria-label", "Close the card");
    close.addEventListener("click", function () { closeCard(); });
    if (meta.synthetic) card.appendChild(el("div", "SYNTHETIC DATA", "mark"));
    var h = el("h3", "#" + c.rank + " " + c.name);
    h.tabIndex = -1;
    h.id = "card-title";
    card.appendChild(h);
    card.appendChild(close);  // after the title: Tab from the title reaches it
    var econ = c.economies || "";
    if (c.economy_names && c.economy_names !== c.economies) econ += " (" + c.economy_names + ")";
    card.appendChild(el("div", econ, "kv economies"));
    card.appendChild(el("div", (index < TOP ? "Top " + TOP : "Emerging (beyond the top " + TOP + ")") +
      " · score " + num(c.score, 2) + " · id " + c.cluster_id, "kv"));

    var t = el("table", null, "metrics");
    var head = document.createElement("tr");
    [["metric", ""], ["count", "num"], ["% of world", "num"]].forEach(function (x) {
      var th = el("th", x[0], x[1]); th.scope = "col"; head.appendChild(th);
    });
    t.appendChild(head);
    meta.metrics.forEach(function (m) {
      var tr = document.createElement("tr");
      var w = meta.windows[m] ? " " + meta.windows[m] : "";
      tr.appendChild(el("td", metricName(m) + w));
      tr.appendChild(el("td", num(c[m], 1), "num"));
      tr.appendChild(el("td", num(c[m + "_share"], 2), "num"));
      t.appendChild(tr);
    });
    card.appendChild(t);
    card.appendChild(el("div", "Counts are fractional (a document with N addresses gives 1/N to each); " +
      "the score is the sum of the shares.", "source"));

    var facts = el("table", null, "facts");
    if (c.population !== null && c.population !== undefined) {
      kvRow(facts, "population", num(c.population, 0) + " inhabitants", "num");
      if (c.intensity !== null) kvRow(facts, "intensity", num(c.intensity, 2) + " score per million inhabitants", "num");
      if (c.intensity_rank !== null) kvRow(facts, "intensity rank", c.intensity_rank, "num");
    } else {
      kvRow(facts, "population", "unknown");
    }
    if (c.previous_rank !== undefined) {
      kvRow(facts, "previous rank", c.previous_rank === null ? "new" : c.previous_rank, "num");
    }
    if (c.alt_rank !== undefined && c.alt_rank !== null) kvRow(facts, "rank by the other method", c.alt_rank, "num");
    meta.metrics.forEach(function (m) {
      var g = c[m + "_growth_pct"];
      if (g !== undefined && g !== null) kvRow(facts, metricName(m) + " growth", num(g, 1) + " %", "num");
    });
    kvRow(facts, "centre", num(c.lat, 3) + "°, " + num(c.lon, 3) + "°");
    card.appendChild(facts);
    card.appendChild(el("div", "Population: " + meta.population_source + ".", "source"));

    var held = data.places[String(index)];
    if (held && held.length) {
      card.appendChild(el("h4", "Places it holds"));
      var pt = el("table", null, "places-table");
      var ph = document.createElement("tr");
      [["place", ""], ["share of activity", "num"], ["population", "num"]].forEach(function (x) {
        var th = el("th", x[0], x[1]); th.scope = "col"; ph.appendChild(th);
      });
      pt.appendChild(ph);
      held.forEach(function (p) {
        var tr = document.createElement("tr");
        tr.appendChild(el("td", p[0]));
        tr.appendChild(el("td", num(p[1], 1) + " %", "num"));
        tr.appendChild(el("td", p[2] ? num(p[2], 0) : "", "num"));
        pt.appendChild(tr);
      });
      card.appendChild(pt);
      card.appendChild(el("div", "Each location counts for the nearest of these GeoNames places inside the footprint.", "source"));
    }

    var profiles = data.profiles && data.profiles[c.cluster_id];
    if (profiles && profiles.length) {
      var box = el("div", null, "profiles");
      box.appendChild(el("h4", "Top organisations and fields"));
      var prt = el("table", null, "profile-table");
      var group = null;
      profiles.forEach(function (p) {
        var key = p[0] + "/" + p[1];
        if (key !== group) {
          group = key;
          var hr = document.createElement("tr");
          var th = el("th", metricName(p[0]) + " \u00b7 top " + (p[1] === "org" ? "organisations" : "fields"));
          th.colSpan = 2;
          hr.appendChild(th);
          prt.appendChild(hr);
        }
        var tr = document.createElement("tr");
        tr.appendChild(el("td", p[2]));
        tr.appendChild(el("td", p[3] === null ? "" : num(100 * p[3], 1) + " %", "num"));
        prt.appendChild(tr);
      });
      box.appendChild(prt);
      card.appendChild(box);
    }

    var why = el("div", null, "why");
    why.appendChild(el("h4", "Why it is one cluster"));
    var parts = data.metric_clusters[c.cluster_id] || [];
    var links = data.links[c.cluster_id] || [];
    if (parts.length) {
      var intro = parts.length === 1
        ? "Found as one " + metricName(parts[0][0]) + " cluster (" + parts[0][0] + " #" + parts[0][1] + ", " + parts[0][2] + " locations); no merge."
        : "Merged from " + parts.length + " metric clusters: " + parts.map(function (p) {
          return p[0] + " #" + p[1] + " (" + p[2] + " locations)";
        }).join(", ") + ". Clusters of different metrics merge when their locations come within " +
          num(meta.eps_km, 1) + " km:";
      why.appendChild(el("p", intro));
    }
    if (links.length) {
      var ul = el("ul");
      links.forEach(function (l) {
        ul.appendChild(el("li", l[0] + " #" + l[1] + " + " + l[2] + " #" + l[3] + ": closest locations " +
          num(l[4], 2) + "°, " + num(l[5], 2) + "° and " + num(l[6], 2) + "°, " + num(l[7], 2) + "°, " +
          num(l[8], 1) + " km apart"));
      });
      why.appendChild(ul);
      why.appendChild(el("div", "The same pairs are in links.csv.", "source"));
    }
    card.appendChild(why);
    card.dataset.clusterId = c.cluster_id;
    card.dataset.index = String(index);
    api.onCard.forEach(function (fn) { try { fn(card, c, index); } catch (e) { console.error(e); } });
  }

  function showOnMap(index) {
    var c = clusters[index];
    if (highlight) { map.removeLayer(highlight); highlight = null; }
    var f = footOf[index];
    if (f) {
      highlight = L.geoJSON(f, {
        pane: "highlight", interactive: false,
        style: { color: "#111", weight: 3, fillColor: "#e07b00", fillOpacity: 0.25, className: "footprint-highlight" }
      }).addTo(map);
      map.fitBounds(highlight.getBounds(), { maxZoom: 9, padding: [40, 40], animate: false });
    } else if (c.lat !== null && c.lon !== null) {
      map.setView([c.lat, c.lon], 8, { animate: false });
    }
    document.querySelectorAll(".cluster-label.selected").forEach(function (r) { r.classList.remove("selected"); });
    var item = clusterLabels.filter(function (x) { return x.i === index; })[0];
    if (item && item.node) item.node.classList.add("selected");
  }

  function select(index, opts) {
    opts = opts || {};
    var c = clusters[index];
    if (!c) return;
    if (index >= TOP && !emergingOn.checked) {
      emergingOn.checked = true;
      emergingLayer.addTo(map);
      filterTable();
    }
    selected = index;
    buildCard(index);
    document.querySelectorAll("#ranking-table tbody tr.selected").forEach(function (r) { r.classList.remove("selected"); });
    var tr = document.querySelector('#ranking-table tbody tr[data-index="' + index + '"]');
    if (tr) { tr.hidden = false; tr.classList.add("selected"); }
    if (opts.from !== "map") {
      document.getElementById("map-section").scrollIntoView({ block: "start" });
    }
    showOnMap(index);
    layoutLabels();
    if (opts.focus) document.getElementById("card-title").focus({ preventScroll: true });
  }
  api.select = function (index) { select(index, {}); };

  // ---- ranking table ------------------------------------------------------------------------
  var table = document.getElementById("ranking-table");
  var tbody = table.tBodies[0];
  var showAll = document.getElementById("show-all");
  var counter = document.getElementById("table-count");
  var allRows = Array.prototype.slice.call(tbody.rows);
  function filterTable() {
    var n = 0;
    allRows.forEach(function (r) {
      var i = Number(r.dataset.index);
      var visible = showAll.checked || i < TOP || i === selected;
      r.hidden = !visible;
      if (visible) n += 1;
    });
    counter.textContent = n + " of " + allRows.length + " clusters shown";
  }
  showAll.addEventListener("change", filterTable);

  function sortBy(th) {
    var col = th.cellIndex;
    var numeric = th.classList.contains("num");
    var dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
    Array.prototype.forEach.call(th.parentNode.cells, function (h) {
      if (h.hasAttribute("aria-sort")) h.setAttribute("aria-sort", "none");
    });
    th.setAttribute("aria-sort", dir);
    var sign = dir === "ascending" ? 1 : -1;
    var keyed = allRows.map(function (r, k) {
      var cell = r.cells[col];
      var v = cell.dataset.v !== undefined ? cell.dataset.v : cell.textContent;
      return { r: r, k: k, v: numeric ? (v === "" ? null : parseFloat(v)) : v };
    });
    keyed.sort(function (a, b) {
      if (a.v === null || a.v === "") return (b.v === null || b.v === "") ? a.k - b.k : 1;
      if (b.v === null || b.v === "") return -1;
      var d = numeric ? a.v - b.v : String(a.v).localeCompare(String(b.v));
      return d !== 0 ? sign * d : a.k - b.k;
    });
    var frag = document.createDocumentFragment();
    keyed.forEach(function (x) { frag.appendChild(x.r); });
    tbody.appendChild(frag);
  }
  table.querySelectorAll("th[aria-sort] button.sort").forEach(function (b) {
    b.addEventListener("click", function () { sortBy(b.parentNode); });
  });
  // Any "pick" button (a table name, a chart's data table) selects its cluster, keyboard too.
  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("button.pick");
    if (b) { select(Number(b.dataset.index), { focus: e.detail === 0 }); return; }
    var bar = e.target.closest && e.target.closest(".chart-svg g.bar[data-index]");
    if (bar) select(Number(bar.dataset.index), {});
  });
  tbody.addEventListener("click", function (e) {
    if (e.target.closest("button")) return;
    var tr = e.target.closest("tr");
    if (tr) select(Number(tr.dataset.index), {});
  });
  filterTable();

  // ---- search ---------------------------------------------------------------------------------
  var entries = null;  // [folded key, label shown, reason, cluster index], built on first use
  function buildEntries() {
    entries = [];
    clusters.forEach(function (c, i) {
      var why = "#" + c.rank + " · " + (c.economies || "");
      entries.push([fold(c.name), c.name, why, i]);
      entries.push([fold(c.cluster_id), c.cluster_id, c.name + " " + why, i]);
      (c.economy_names || "").split("/").forEach(function (e) {
        if (e.trim()) entries.push([fold(e), e.trim(), "in " + c.name + " " + why, i]);
      });
    });
    data.search.forEach(function (s) {
      var c = clusters[s[1]];
      if (!c) return;
      var seen = {};
      var keys = s[2] ? s[2].split("|") : [fold(s[0])];
      if (keys.indexOf(fold(s[0])) < 0) keys.unshift(fold(s[0]));
      keys.forEach(function (key) {
        if (!key || seen[key]) return;
        seen[key] = 1;
        entries.push([key, s[0], "in #" + c.rank + " " + c.name, s[1]]);
      });
    });
    return entries;
  }
  var input = document.getElementById("search");
  var list = document.getElementById("suggestions");
  var status = document.getElementById("search-status");
  var current = [];
  var active = -1;

  function findMatches(q) {
    var variants = foldVariants(q);
    var best = {};
    (entries || buildEntries()).forEach(function (e) {
      variants.forEach(function (v) {
        if (!v) return;
        var pos = e[0].indexOf(v);
        if (pos < 0) return;
        var score = e[0] === v ? 0 : pos === 0 ? 1 : e[0].indexOf(" " + v) >= 0 ? 2 : 3;
        var key = e[1] + "\u0000" + e[3];
        var prev = best[key];
        if (!prev || score < prev.score) best[key] = { score: score, e: e };
      });
    });
    return Object.keys(best).map(function (k) { return best[k]; }).sort(function (a, b) {
      return a.score - b.score || a.e[3] - b.e[3] || (a.e[1] < b.e[1] ? -1 : a.e[1] > b.e[1] ? 1 : 0);
    }).slice(0, 8).map(function (x) { return x.e; });
  }
  function closeList() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }
  function setActive(k) {
    active = k;
    Array.prototype.forEach.call(list.children, function (li, j) {
      li.setAttribute("aria-selected", j === k ? "true" : "false");
    });
    if (k >= 0) input.setAttribute("aria-activedescendant", "suggestion-" + k);
  }
  function choose(k) {
    var e = current[k];
    if (!e) return;
    closeList();
    status.textContent = e[1] + ": " + clusters[e[3]].name + " (#" + clusters[e[3]].rank + ")";
    select(e[3], { focus: true });
  }
  input.addEventListener("input", function () {
    var q = input.value.trim();
    list.replaceChildren();
    current = q ? findMatches(q) : [];
    if (!current.length) {
      closeList();
      status.textContent = q ? "No cluster or place matches “" + q + "”." : "";
      return;
    }
    current.forEach(function (e, k) {
      var li = el("li", e[1]);
      li.id = "suggestion-" + k;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      li.appendChild(el("span", e[2], "why"));
      li.addEventListener("mousedown", function (ev) { ev.preventDefault(); choose(k); });
      list.appendChild(li);
    });
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    status.textContent = current.length + " suggestion" + (current.length > 1 ? "s" : "") + "; arrow keys to choose, Enter to open.";
    setActive(-1);
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "ArrowDown" && current.length) { e.preventDefault(); setActive(Math.min(active + 1, current.length - 1)); }
    else if (e.key === "ArrowUp" && current.length) { e.preventDefault(); setActive(Math.max(active - 1, 0)); }
    else if (e.key === "Enter") { e.preventDefault(); choose(active >= 0 ? active : 0); }
    else if (e.key === "Escape") { closeList(); }
  });
  input.addEventListener("blur", function () { setTimeout(closeList, 150); });

  // ---- print: the whole ranking and every table ----------------------------------------------
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details").forEach(function (d) { d.open = true; });
  });

  layoutLabels();
  // Time from navigation start to a drawn page (read by benchmarks/bench_report.py).
  document.body.dataset.readyMs = String(Math.round(performance.now()));
  document.body.dataset.ready = "1";
})();
