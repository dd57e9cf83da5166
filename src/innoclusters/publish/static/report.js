/* innoclusters report: map, card, ranking table and charts.
 * Every string from the data is put into the page with textContent, never innerHTML;
 * strings handed to plotly (which reads a few HTML-like tags in labels) are entity-escaped.
 */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("inno-data").textContent);
  var clusters = data.clusters;
  var meta = data.meta;
  var byId = {};
  clusters.forEach(function (c, i) { byId[c.cluster_id] = i; });

  // plotly.js fetches a base map (topojson) from a CDN for geo plots; register an empty one so
  // it never does: the outlines are drawn from the Natural Earth layer embedded in the page.
  var emptyTopo = { type: "Topology", arcs: [], objects: {} };
  ["land", "ocean", "lakes", "rivers", "coastlines", "countries", "subunits"].forEach(function (k) {
    emptyTopo.objects[k] = { type: "GeometryCollection", geometries: [] };
  });
  window.PlotlyGeoAssets = window.PlotlyGeoAssets || { topojson: {} };
  window.PlotlyGeoAssets.topojson = window.PlotlyGeoAssets.topojson || {};
  ["world_110m", "world_50m"].forEach(function (k) { window.PlotlyGeoAssets.topojson[k] = emptyTopo; });

  function esc(value) {
    return String(value).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }
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
  var plotConfig = { responsive: true, displaylogo: false, scrollZoom: true };
  var pending = [];

  // ---- card ---------------------------------------------------------------------------------
  var card = document.getElementById("card");
  var cardHint = document.getElementById("card-hint");
  function closeCard() {
    card.replaceChildren(cardHint);
    delete card.dataset.clusterId;
    document.querySelectorAll("#ranking-table tbody tr.selected").forEach(function (r) {
      r.classList.remove("selected");
    });
  }
  var shown = { rank: 1, cluster_id: 1, name: 1, economies: 1, economy_names: 1, score: 1,
    population: 1, intensity: 1, intensity_rank: 1, lat: 1, lon: 1 };
  meta.metrics.forEach(function (m) { shown[m] = 1; shown[m + "_share"] = 1; });

  function row(table, key, value) {
    var tr = document.createElement("tr");
    tr.appendChild(el("th", key, "kv"));
    // Fractional figures without a format of their own (per-million rates, growth) get two
    // decimals; whole numbers and text are shown as they are.
    if (typeof value === "number" && !Number.isInteger(value)) value = num(value, 2);
    tr.appendChild(el("td", value));
    table.appendChild(tr);
  }

  function openCard(index) {
    var c = clusters[index];
    if (!c) return;
    card.replaceChildren();
    var close = el("button", "×", "close");
    close.type = "button";
    close.setAttribute("aria-label", "Close card");
    close.addEventListener("click", closeCard);
    card.appendChild(close);
    card.appendChild(el("h3", "#" + c.rank + " " + c.name));
    var econ = c.economies || "";
    if (c.economy_names) econ += " (" + c.economy_names + ")";
    card.appendChild(el("div", econ, "kv economies"));
    card.appendChild(el("div", (index < meta.top ? "Top " + meta.top : "Emerging") +
      " · score " + num(c.score, 2) + " · id " + c.cluster_id, "kv"));

    var t = el("table", null, "metrics");
    var head = document.createElement("tr");
    ["metric", "count", "share %"].forEach(function (h) { head.appendChild(el("th", h)); });
    t.appendChild(head);
    meta.metrics.forEach(function (m) {
      var tr = document.createElement("tr");
      tr.appendChild(el("td", meta.metric_labels[m] || m));
      tr.appendChild(el("td", num(c[m], 1)));
      tr.appendChild(el("td", num(c[m + "_share"], 3)));
      t.appendChild(tr);
    });
    card.appendChild(t);

    var facts = el("table", null, "facts");
    if (c.population !== null && c.population !== undefined) {
      row(facts, "population", num(c.population, 0));
      if (c.intensity !== null) row(facts, "intensity (per million)", num(c.intensity, 1));
      if (c.intensity_rank !== null) row(facts, "intensity rank", c.intensity_rank);
    }
    row(facts, "centre", num(c.lat, 3) + ", " + num(c.lon, 3));
    data.fields.forEach(function (f) {
      if (!shown[f] && c[f] !== null && c[f] !== undefined && c[f] !== "") row(facts, f, c[f]);
    });
    card.appendChild(facts);

    var profiles = data.profiles && data.profiles[c.cluster_id];
    if (profiles && profiles.length) {
      var box = el("div", null, "profiles");
      box.appendChild(el("h4", "Profile"));
      var pt = el("table", null, "profile-table");
      var group = null;
      profiles.forEach(function (p) {
        // One heading row per metric and kind, then value and share: fits a narrow card.
        var key = p.metric + "/" + p.kind;
        if (key !== group) {
          group = key;
          var hr = document.createElement("tr");
          var th = el("th", p.metric + " \u00b7 top " + (p.kind === "org" ? "organisations" : "fields"));
          th.colSpan = 2;
          hr.appendChild(th);
          pt.appendChild(hr);
        }
        var tr = document.createElement("tr");
        tr.appendChild(el("td", p.value));
        tr.appendChild(el("td", p.share === null ? "" : num(100 * p.share, 1) + " %", "num"));
        pt.appendChild(tr);
      });
      box.appendChild(pt);
      card.appendChild(box);
    }
    card.dataset.clusterId = c.cluster_id;
    var rows = document.querySelectorAll("#ranking-table tbody tr.selected");
    rows.forEach(function (r) { r.classList.remove("selected"); });
    var tr = document.querySelector('#ranking-table tbody tr[data-index="' + index + '"]');
    if (tr) tr.classList.add("selected");
  }

  // ---- map ----------------------------------------------------------------------------------
  var mapDiv = document.getElementById("map");
  var withShape = data.footprints.features.map(function (f) { return byId[f.id]; });
  var maxScore = 0;
  clusters.forEach(function (c) { if (c.score > maxScore) maxScore = c.score; });
  function label(c) { return esc(c.name); }
  var countries = data.countries.features;
  var traces = [
    {
      type: "choropleth", name: "countries", geojson: data.countries,
      locations: countries.map(function (f) { return f.id; }),
      z: countries.map(function () { return 0; }),
      colorscale: [[0, "#e9edf1"], [1, "#e9edf1"]], showscale: false,
      marker: { line: { color: "#aab4bf", width: 0.5 } }, hoverinfo: "skip"
    },
    {
      type: "scattergeo", name: "noise", mode: "markers",
      lat: data.noise.lat, lon: data.noise.lon,
      marker: { size: 3, color: "rgba(80,90,100,0.28)", line: { width: 0 } }, hoverinfo: "skip"
    },
    {
      type: "choropleth", name: "clusters", geojson: data.footprints,
      locations: withShape.map(function (i) { return clusters[i].cluster_id; }),
      z: withShape.map(function (i) { return clusters[i].score; }),
      customdata: withShape.map(function (i) { return [i, label(clusters[i]), clusters[i].rank]; }),
      coloraxis: "coloraxis", marker: { line: { color: "#7a1f00", width: 0.6 } },
      hovertemplate: "#%{customdata[2]} %{customdata[1]}<br>score %{z:.2f}<extra></extra>"
    },
    {
      type: "scattergeo", name: "centres", mode: "markers",
      lat: clusters.map(function (c) { return c.lat; }),
      lon: clusters.map(function (c) { return c.lon; }),
      customdata: clusters.map(function (c, i) { return [i, label(c), c.rank]; }),
      marker: {
        size: clusters.map(function (c) {
          return maxScore > 0 ? 4 + 14 * Math.sqrt(Math.max(c.score, 0) / maxScore) : 5;
        }),
        color: clusters.map(function (c) { return c.score; }), coloraxis: "coloraxis",
        opacity: 0.85, line: { color: "#ffffff", width: 0.6 }
      },
      hovertemplate: "#%{customdata[2]} %{customdata[1]}<br>score %{marker.color:.2f}<extra></extra>"
    }
  ];
  var mapLayout = {
    margin: { l: 0, r: 0, t: 0, b: 0 }, showlegend: false, dragmode: "pan",
    geo: {
      projection: { type: "natural earth" }, showland: false, showocean: false,
      showcoastlines: false, showcountries: false, showlakes: false, showrivers: false,
      showframe: false, showsubunits: false, bgcolor: "#f5f8fb",
      lataxis: { range: [-60, 85] }
    },
    coloraxis: { colorscale: "YlOrRd", colorbar: { title: { text: "score" }, thickness: 12 } }
  };
  pending.push(Plotly.newPlot(mapDiv, traces, mapLayout, plotConfig).then(function () {
    mapDiv.on("plotly_click", function (ev) {
      var p = ev && ev.points && ev.points[0];
      if (p && p.customdata && (p.data.name === "clusters" || p.data.name === "centres")) {
        openCard(p.customdata[0]);
      }
    });
  }));

  function focusMap(index) {
    var c = clusters[index];
    if (!c || c.lat === null || c.lon === null) return;
    Plotly.relayout(mapDiv, {
      "geo.projection.rotation.lon": c.lon, "geo.center.lon": c.lon, "geo.center.lat": c.lat,
      "geo.projection.scale": 12
    });
  }

  // ---- ranking table ------------------------------------------------------------------------
  var table = document.getElementById("ranking-table");
  var tbody = table.tBodies[0];
  var search = document.getElementById("table-search");
  var showAll = document.getElementById("show-all");
  var counter = document.getElementById("table-count");
  var allRows = Array.prototype.slice.call(tbody.rows);
  var texts = allRows.map(function (r) { return r.textContent.toLowerCase(); });

  function filter() {
    var q = search.value.trim().toLowerCase();
    var n = 0;
    allRows.forEach(function (r, k) {
      var inTop = Number(r.dataset.index) < meta.top;
      var visible = (showAll.checked || inTop) && (!q || texts[k].indexOf(q) >= 0);
      r.hidden = !visible;
      if (visible) n += 1;
    });
    counter.textContent = n + " of " + allRows.length + " clusters shown";
  }
  search.addEventListener("input", filter);
  showAll.addEventListener("change", filter);

  function sortBy(th) {
    var col = th.cellIndex;
    var numeric = th.classList.contains("num");
    var dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
    Array.prototype.forEach.call(th.parentNode.cells, function (h) { h.setAttribute("aria-sort", "none"); });
    th.setAttribute("aria-sort", dir);
    var sign = dir === "ascending" ? 1 : -1;
    var keyed = allRows.map(function (r, k) {
      var v = r.cells[col].dataset.v;
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
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
    th.addEventListener("click", function () { sortBy(th); });
    th.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(th); }
    });
  });
  tbody.addEventListener("click", function (e) {
    var tr = e.target.closest("tr");
    if (!tr) return;
    var index = Number(tr.dataset.index);
    openCard(index);
    focusMap(index);
  });
  filter();

  // ---- charts -------------------------------------------------------------------------------
  function barChart(div, rows, valueKey, title, hoverExtra) {
    var labels = rows.map(function (r) { return esc(r.name) + " (#" + r.rank + ")"; });
    var trace = {
      type: "bar", orientation: "h", y: labels, x: rows.map(function (r) { return r[valueKey]; }),
      customdata: rows.map(function (r) { return [byId[r.cluster_id], esc(r.economies || ""), hoverExtra(r)]; }),
      marker: { color: "#2b6cb0" },
      hovertemplate: "%{y}<br>%{customdata[1]}<br>%{customdata[2]}<extra></extra>"
    };
    var layout = {
      title: { text: esc(title), font: { size: 14 } }, margin: { l: 230, r: 16, t: 36, b: 36 },
      yaxis: { autorange: "reversed", automargin: true }, xaxis: { zeroline: false }
    };
    pending.push(Plotly.newPlot(div, [trace], layout, plotConfig).then(function () {
      div.on("plotly_click", function (ev) {
        var p = ev && ev.points && ev.points[0];
        if (p && p.customdata && p.customdata[0] !== undefined) {
          openCard(p.customdata[0]);
          document.getElementById("map-section").scrollIntoView();
        }
      });
    }));
  }
  meta.metrics.forEach(function (m) {
    var div = document.getElementById("top10-" + m);
    var rows = data.top10[m] || [];
    if (div) {
      barChart(div, rows, "count", (meta.metric_labels[m] || m) + ": top 10", function (r) {
        return num(r.count, 1) + " (" + num(r.share, 2) + " % of world)";
      });
    }
  });
  var econDiv = document.getElementById("economy-chart");
  var econ = data.economies.filter(function (e) { return e.top_clusters > 0; }).slice(0, 40);
  pending.push(Plotly.newPlot(econDiv, [{
    type: "bar", x: econ.map(function (e) { return esc(e.economy); }),
    y: econ.map(function (e) { return e.top_clusters; }),
    customdata: econ.map(function (e) { return [esc(e.economy_name), e.all_clusters]; }),
    marker: { color: "#2b6cb0" },
    hovertemplate: "%{x} %{customdata[0]}<br>%{y} top clusters, %{customdata[1]} in all<extra></extra>"
  }], {
    margin: { l: 48, r: 16, t: 16, b: 60 }, xaxis: { type: "category", tickangle: -45 },
    yaxis: { title: { text: "top-" + meta.top + " clusters" }, dtick: 1, rangemode: "tozero" }
  }, plotConfig));
  var intDiv = document.getElementById("intensity-chart");
  if (intDiv) {
    barChart(intDiv, data.intensity.slice(0, 20), "intensity",
      "Activity per million inhabitants", function (r) {
        return num(r.intensity, 1) + " per million, population " + num(r.population, 0);
      });
  }

  Promise.all(pending).then(function () {
    document.body.dataset.ready = "1";
  }, function (err) {
    document.body.dataset.ready = "error";
    console.error(err);
  });
})();
