/* innoclusters report: rank intervals on the card and in the ranking table, and the
 * what-if panel.
 *
 * The panel computes no clusters: it re-ranks runs precomputed over a grid of radius x
 * density x with/without VC (data in #whatif-data), scoring each run's clusters with the
 * weights chosen on the page. Strings from the data go into the page with textContent.
 */
(function () {
  "use strict";
  var node = document.getElementById("whatif-data");
  if (!node) return;
  var W = JSON.parse(node.textContent);
  var TOP = W.top;

  function el(tag, text, cls) {
    var n = document.createElement(tag);
    if (text !== undefined && text !== null) n.textContent = String(text);
    if (cls) n.className = cls;
    return n;
  }
  function interval(pair) {
    if (pair[0] === null) return "not a cluster";
    if (pair[1] === null) return pair[0] + "–…";
    return pair[0] === pair[1] ? String(pair[0]) : pair[0] + "–" + pair[1];
  }

  function onCard(card, c) {
    var u = W.clusters[c.cluster_id];
    if (!u) return;
    var box = el("div", null, "card-uncertainty");
    box.appendChild(el("h4", "How sure is rank " + u.rank + "?"));
    box.appendChild(el("p", "90 % interval " + interval(u.both) + " (data and method); " +
      "data alone " + interval(u.data) + ", method alone " + interval(u.method) + "."));
    box.appendChild(el("p", "In the top " + TOP + " in " + Math.round(100 * u.both[2]) +
      " % of the replicates" + (u.uncertain ? " (uncertain)" : "") +
      "; a cluster of its own in " + Math.round(100 * u.exists) + " %."));
    card.appendChild(box);
  }

  function markRows() {
    var rows = document.querySelectorAll("#ranking-table tbody tr");
    var data = window.innoclusters && window.innoclusters.data;
    if (!data) return;
    rows.forEach(function (tr) {
      var c = data.clusters[Number(tr.dataset.index)];
      var u = c && W.clusters[c.cluster_id];
      if (u && u.uncertain) {
        tr.classList.add("top-uncertain");
        tr.title = "In the top " + TOP + " in " + Math.round(100 * u.both[2]) + " % of the replicates";
      }
    });
  }

  function rerank() {
    var form = document.getElementById("whatif-form");
    if (!form) return;
    var eps = W.eps[Number(document.getElementById("whatif-eps").value)];
    var dens = W.density[Number(document.getElementById("whatif-density").value)];
    var vcBox = document.getElementById("whatif-vc");
    var withVc = vcBox ? vcBox.checked : W.vc_variants[W.vc_variants.length - 1];
    document.getElementById("whatif-eps-value").textContent = eps + " km";
    document.getElementById("whatif-density-value").textContent = dens.toFixed(2) + "×";
    var weights = {};
    document.querySelectorAll(".whatif-weight").forEach(function (s) {
      var m = s.dataset.metric;
      var off = m === "vc" && !withVc;
      s.disabled = off;
      weights[m] = off ? 0 : Number(s.value);
      var out = form.querySelector('output[data-metric="' + m + '"]');
      if (out) out.textContent = off ? "not used" : Number(s.value).toFixed(2);
    });
    var run = W.runs[eps + "|" + dens + "|" + (withVc ? 1 : 0)];
    if (!run) return;
    var n = run.name.length;
    var order = [];
    for (var i = 0; i < n; i++) {
      var score = 0;
      W.metrics.forEach(function (m) { if (run[m]) score += weights[m] * run[m][i]; });
      order.push({ i: i, score: score, id: run.id[i], name: run.name[i] });
    }
    order.sort(function (a, b) { return b.score - a.score || (a.name < b.name ? -1 : 1); });
    var nominalTop = {};
    W.order.slice(0, TOP).forEach(function (id) { nominalTop[id] = true; });
    var nowTop = {};
    var entrants = [];
    order.slice(0, TOP).forEach(function (r, k) {
      if (r.id) nowTop[r.id] = true;
      if (!r.id || !nominalTop[r.id]) entrants.push([k + 1, r]);
    });
    var exits = W.order.slice(0, TOP).filter(function (id) { return !nowTop[id]; });
    function fill(id, items) {
      var list = document.getElementById(id);
      list.replaceChildren();
      items.forEach(function (text) { list.appendChild(el("li", text)); });
      if (!items.length) list.appendChild(el("li", "none", "muted"));
    }
    fill("whatif-entrants", entrants.map(function (e) {
      var was = e[1].id && W.clusters[e[1].id] ? " (was " + W.clusters[e[1].id].rank + ")" : " (new)";
      return e[1].name + ": " + e[0] + was;
    }));
    fill("whatif-exits", exits.map(function (id) {
      return W.clusters[id].name + " (was " + W.clusters[id].rank + ")";
    }));
    fill("whatif-top", order.slice(0, 20).map(function (r) {
      return r.name + " — " + r.score.toFixed(2);
    }));
    document.getElementById("whatif-summary").textContent =
      "Radius " + eps + " km, density " + dens.toFixed(2) + "×" + (withVc ? "" : ", without VC") +
      ": " + n + " clusters; " + entrants.length + " enter and " + exits.length +
      " leave the top " + TOP + ".";
  }

  function reset() {
    document.getElementById("whatif-eps").value = String(W.eps.indexOf(W.nominal.eps));
    document.getElementById("whatif-density").value = String(W.density.indexOf(W.nominal.density));
    var vcBox = document.getElementById("whatif-vc");
    if (vcBox) vcBox.checked = true;
    document.querySelectorAll(".whatif-weight").forEach(function (s) {
      s.value = String(W.weights[s.dataset.metric]);
    });
    rerank();
  }

  function start() {
    if (window.innoclusters && window.innoclusters.onCard) window.innoclusters.onCard.push(onCard);
    markRows();
    var form = document.getElementById("whatif-form");
    if (!form) return;
    form.addEventListener("input", rerank);
    form.addEventListener("change", rerank);
    document.getElementById("whatif-reset").addEventListener("click", reset);
    reset();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
