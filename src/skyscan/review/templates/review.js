// skyscan review page: accept / reject detections, add missed vehicles, export labels.
// Everything is in this file and the JSON beside it; nothing is requested from anywhere.
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("review-data").textContent);
  var KEY = "skyscan-review:" + D.page_id;
  // Every detection on the page: those with a crop, then those only seen in an image view.
  var ALL = D.detections.concat(D.in_views || []);
  var S = { decisions: {}, relabel: {}, added: [], history: [], cur: 0, view: 0, cls: 0, mode: "crops", nextId: 1, seen: {} };
  var selected = null; // id of the selected box in a view (an added box or a detection)

  function load() {
    try {
      var saved = JSON.parse(window.localStorage.getItem(KEY) || "null");
      if (saved && saved.decisions) { Object.assign(S, saved); }
    } catch (e) { /* a broken entry starts afresh */ }
  }
  function save() {
    try { window.localStorage.setItem(KEY, JSON.stringify(S)); } catch (e) { /* storage full or off */ }
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  // A box [x0, y0, x1, y1] in image pixels drawn over a window [col, row, w, h] in percent.
  function boxDiv(box, win, cls) {
    var d = el("div", "box " + cls);
    d.style.left = (100 * (box[0] - win[0]) / win[2]) + "%";
    d.style.top = (100 * (box[1] - win[1]) / win[3]) + "%";
    d.style.width = (100 * (box[2] - box[0]) / win[2]) + "%";
    d.style.height = (100 * (box[3] - box[1]) / win[3]) + "%";
    return d;
  }
  function cropWin(det) { return [det.win[0], det.win[1], det.win[2], det.win[2]]; }
  function status(det) { return S.decisions[det.id] || "pending"; }

  // ---- decisions -------------------------------------------------------------------------
  // value: "accept" or "reject"; cls: accept as this class instead of the detected one
  function decideOn(det, value, cls) {
    S.history.push({ type: "decide", id: det.id, prev: S.decisions[det.id] || null,
                     prevCls: S.relabel[det.id] || null, cur: S.mode === "crops" ? S.cur : null });
    S.decisions[det.id] = value;
    if (cls && cls !== det.cls) { S.relabel[det.id] = cls; } else { delete S.relabel[det.id]; }
  }
  function decide(value, cls) {
    var det = D.detections[S.cur];
    if (!det) { return; }
    decideOn(det, value, cls);
    if (S.cur < D.detections.length - 1) { S.cur += 1; }
    save(); render();
  }
  function decideSelected(value) {
    var det = ALL.filter(function (d) { return d.id === selected; })[0];
    if (!det) { return; }
    decideOn(det, value, null);
    save(); render();
  }
  function undo() {
    var h = S.history.pop();
    if (!h) { return; }
    if (h.type === "decide") {
      if (h.prev) { S.decisions[h.id] = h.prev; } else { delete S.decisions[h.id]; }
      if (h.prevCls) { S.relabel[h.id] = h.prevCls; } else { delete S.relabel[h.id]; }
      if (h.cur !== null && h.cur !== undefined) { S.cur = h.cur; }
    } else if (h.type === "add") {
      S.added = S.added.filter(function (b) { return b.id !== h.item.id; });
    } else if (h.type === "delete") {
      S.added.push(h.item);
    }
    save(); render();
  }
  function move(step) {
    if (S.mode === "crops") {
      S.cur = Math.max(0, Math.min(D.detections.length - 1, S.cur + step));
    } else {
      S.view = Math.max(0, Math.min(D.views.length - 1, S.view + step));
      selected = null;
    }
    save(); render();
  }
  function nextUndecided() {
    for (var i = 1; i <= D.detections.length; i++) {
      var k = (S.cur + i) % D.detections.length;
      if (!S.decisions[D.detections[k].id]) { S.cur = k; break; }
    }
    save(); render();
  }
  function addBox(image, box) {
    var item = { id: "added:" + (S.nextId++), image: image, view: S.view, cls: D.classes[S.cls], box: box };
    S.added.push(item);
    S.history.push({ type: "add", item: item });
    save(); render();
  }
  function deleteSelected() {
    if (!selected) { return; }
    var item = S.added.filter(function (b) { return b.id === selected; })[0];
    if (!item) { return; }
    S.added = S.added.filter(function (b) { return b.id !== selected; });
    S.history.push({ type: "delete", item: item });
    selected = null;
    save(); render();
  }

  // ---- rendering -------------------------------------------------------------------------
  function renderProgress() {
    var acc = 0, rej = 0;
    ALL.forEach(function (d) {
      if (S.decisions[d.id] === "accept") { acc++; } else if (S.decisions[d.id] === "reject") { rej++; }
    });
    document.getElementById("progress").textContent =
      (acc + rej) + " / " + ALL.length + " decided (" + acc + " accepted, " + rej + " rejected) · " +
      S.added.length + " added";
  }
  function renderCrops() {
    var det = D.detections[S.cur];
    var big = document.getElementById("big"), info = document.getElementById("info");
    big.textContent = ""; info.textContent = "";
    if (det) {
      var img = el("img"); img.src = det.url; img.alt = det.id;
      big.appendChild(img);
      big.appendChild(boxDiv(det.box, cropWin(det), status(det)));
      var st = status(det);
      info.appendChild(el("div", "", (S.cur + 1) + " of " + D.detections.length + ": " + det.cls +
        (S.relabel[det.id] ? " → " + S.relabel[det.id] : "") +
        " · score " + det.score.toFixed(2)));
      info.appendChild(el("div", "status-" + st, st === "pending" ? "undecided" : st + "ed"));
      info.appendChild(el("div", "", D.images[det.image].file_name + " · " + det.id));
    } else {
      info.textContent = "No detections to review.";
    }
    var grid = document.getElementById("grid");
    if (grid.childElementCount !== D.detections.length) {
      grid.textContent = "";
      D.detections.forEach(function (d, i) {
        var t = el("div", "thumb"); t.dataset.index = i;
        var im = el("img"); im.src = d.url; im.alt = d.id; im.loading = "lazy";
        t.appendChild(im); t.appendChild(boxDiv(d.box, cropWin(d), "pending"));
        t.addEventListener("click", function () { S.cur = i; save(); render(); });
        grid.appendChild(t);
      });
    }
    Array.prototype.forEach.call(grid.children, function (t, i) {
      var d = D.detections[i], st = status(d);
      t.className = "thumb " + st + (i === S.cur ? " current" : "");
      t.lastChild.className = "box " + st;
    });
    var curThumb = grid.children[S.cur];
    if (curThumb && curThumb.scrollIntoView) { curThumb.scrollIntoView({ block: "nearest" }); }
  }
  function renderView() {
    var box = document.getElementById("view"), title = document.getElementById("view-title");
    box.textContent = "";
    document.getElementById("cls").textContent = D.classes[S.cls];
    var v = D.views[S.view];
    if (!v) { title.textContent = "No image views."; return; }
    if (!S.seen[S.view]) { S.seen[S.view] = true; save(); }
    var im = D.images[v.image];
    title.textContent = "View " + (S.view + 1) + " of " + D.views.length + ": " + im.file_name +
      " (pixels " + v.win[0] + "," + v.win[1] + " to " + (v.win[0] + v.win[2]) + "," + (v.win[1] + v.win[3]) + ")";
    var img = el("img"); img.src = v.url; img.draggable = false;
    // Shown up to 4x enlarged (at most ~1000 screen px), so small vehicles are easy to box.
    var zoom = Math.max(1, Math.min(4, 1000 / Math.max(v.win[2], v.win[3])));
    img.style.width = Math.round(v.win[2] * zoom) + "px";
    img.style.height = Math.round(v.win[3] * zoom) + "px";
    box.appendChild(img);
    function inside(b) {
      return b[2] > v.win[0] && b[0] < v.win[0] + v.win[2] && b[3] > v.win[1] && b[1] < v.win[1] + v.win[3];
    }
    ALL.forEach(function (d) {
      if (d.image === v.image && inside(d.box)) {
        var div = boxDiv(d.box, v.win, "det " + status(d) + (d.id === selected ? " selected" : ""));
        div.title = d.cls + " " + d.score.toFixed(2) + (S.relabel[d.id] ? " → " + S.relabel[d.id] : "");
        div.dataset.id = d.id;
        div.addEventListener("mousedown", function (ev) { ev.stopPropagation(); });
        div.addEventListener("click", function (ev) { ev.stopPropagation(); selected = d.id; render(); });
        box.appendChild(div);
      }
    });
    S.added.forEach(function (a) {
      if (a.image === v.image && inside(a.box)) {
        var div = boxDiv(a.box, v.win, "added" + (a.id === selected ? " selected" : ""));
        div.title = a.cls; div.dataset.id = a.id;
        div.addEventListener("mousedown", function (ev) { ev.stopPropagation(); });
        div.addEventListener("click", function (ev) { ev.stopPropagation(); selected = a.id; render(); });
        box.appendChild(div);
      }
    });
  }
  function render() {
    document.getElementById("crops").hidden = S.mode !== "crops";
    document.getElementById("views").hidden = S.mode !== "views";
    document.getElementById("tab-crops").classList.toggle("active", S.mode === "crops");
    document.getElementById("tab-views").classList.toggle("active", S.mode === "views");
    renderProgress();
    if (S.mode === "crops") { renderCrops(); } else { renderView(); }
  }

  // ---- drawing boxes on a view -------------------------------------------------------------
  var drag = null;
  function srcPoint(ev) {
    var v = D.views[S.view], r = document.getElementById("view").firstChild.getBoundingClientRect();
    var fx = Math.max(0, Math.min(1, (ev.clientX - r.left) / r.width));
    var fy = Math.max(0, Math.min(1, (ev.clientY - r.top) / r.height));
    return [v.win[0] + fx * v.win[2], v.win[1] + fy * v.win[3]];
  }
  function dragBox(a, b) {
    return [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[0], b[0]), Math.max(a[1], b[1])];
  }
  function onDown(ev) {
    if (ev.button !== 0 || !D.views[S.view]) { return; }
    ev.preventDefault();
    drag = { start: srcPoint(ev), div: null };
  }
  function onMove(ev) {
    if (!drag) { return; }
    var v = D.views[S.view], b = dragBox(drag.start, srcPoint(ev));
    if (drag.div) { drag.div.remove(); }
    drag.div = boxDiv(b, v.win, "drawing");
    document.getElementById("view").appendChild(drag.div);
  }
  function onUp(ev) {
    if (!drag) { return; }
    var b = dragBox(drag.start, srcPoint(ev)), v = D.views[S.view];
    if (drag.div) { drag.div.remove(); }
    drag = null;
    var rounded = b.map(function (x) { return Math.round(x * 10) / 10; });
    // A click (no drag) only clears the selection; boxes need 2 screen pixels each way.
    var r = document.getElementById("view").firstChild.getBoundingClientRect();
    if ((b[2] - b[0]) * r.width / v.win[2] >= 3 && (b[3] - b[1]) * r.height / v.win[3] >= 3) { addBox(v.image, rounded); }
    else { selected = null; render(); }
  }

  // ---- export ------------------------------------------------------------------------------
  function labelsOf(image) {
    var out = [];
    ALL.forEach(function (d) {
      if (d.image === image && S.decisions[d.id]) {
        out.push({ status: S.decisions[d.id] === "accept" ? "accepted" : "rejected", cls: S.relabel[d.id] || d.cls,
                   detected: d.cls, box: d.box, id: d.id, score: d.score, ll: d.ll });
      }
    });
    S.added.forEach(function (a) {
      if (a.image === image) {
        out.push({ status: "added", cls: a.cls, detected: null, box: a.box, id: a.id, score: null,
                   ll: (D.views[a.view] || {}).ll });
      }
    });
    return out.map(function (l) {
      var im = D.images[image];
      l.box = [Math.max(0, l.box[0]), Math.max(0, l.box[1]), Math.min(im.width, l.box[2]), Math.min(im.height, l.box[3])];
      return l;
    }).filter(function (l) { return l.box[2] - l.box[0] >= 1 && l.box[3] - l.box[1] >= 1; });
  }
  function stem(name) { var i = name.lastIndexOf("."); return i > 0 ? name.slice(0, i) : name; }
  function classIndex(name) { var i = D.classes.indexOf(name); return i < 0 ? 0 : i; }
  function yoloLine(l, im) {
    var b = l.box, f = function (x) { return x.toFixed(6); };
    return classIndex(l.cls) + " " + f((b[0] + b[2]) / 2 / im.width) + " " + f((b[1] + b[3]) / 2 / im.height) +
      " " + f((b[2] - b[0]) / im.width) + " " + f((b[3] - b[1]) / im.height) + "\n";
  }
  function summary() {
    var n = { accepted: 0, rejected: 0, added: 0 };
    D.images.forEach(function (im, i) { labelsOf(i).forEach(function (l) { n[l.status]++; }); });
    return { page_id: D.page_id, classes: D.classes, counts: n,
             undecided: ALL.length - n.accepted - n.rejected, notes: D.notes,
             // where missed vehicles could be added, and which of those views were opened
             views: D.views.map(function (v, i) { return { file_name: D.images[v.image].file_name, window: v.win,
                                                           seen: !!S.seen[i] }; }),
             images: D.images.map(function (im) { return { file_name: im.file_name, path: im.path,
                                                           width: im.width, height: im.height, gsd: im.gsd }; }) };
  }
  function yoloFiles() {
    var files = [{ name: "classes.txt", text: D.classes.join("\n") + "\n" },
                 { name: "images.txt", text: D.images.map(function (im) { return im.file_name; }).join("\n") + "\n" },
                 { name: "review.json", text: JSON.stringify(summary(), null, 1) }];
    D.images.forEach(function (im, i) {
      var ls = labelsOf(i);
      files.push({ name: "labels/" + stem(im.file_name) + ".txt",
                   text: ls.filter(function (l) { return l.status !== "rejected"; }).map(function (l) { return yoloLine(l, im); }).join("") });
      files.push({ name: "negatives/" + stem(im.file_name) + ".txt",
                   text: ls.filter(function (l) { return l.status === "rejected"; }).map(function (l) { return yoloLine(l, im); }).join("") });
    });
    return files;
  }
  function coco() {
    var anns = [], negs = [];
    D.images.forEach(function (im, i) {
      labelsOf(i).forEach(function (l) {
        var b = l.box, a = { id: anns.length + negs.length + 1, image_id: i + 1, category_id: classIndex(l.cls) + 1,
          bbox: [b[0], b[1], b[2] - b[0], b[3] - b[1]], area: (b[2] - b[0]) * (b[3] - b[1]), iscrowd: 0,
          skyscan_status: l.status, skyscan_id: l.id, skyscan_detected_class: l.detected, score: l.score };
        (l.status === "rejected" ? negs : anns).push(a);
      });
    });
    return { info: { description: "skyscan review export", page_id: D.page_id },
             images: D.images.map(function (im, i) { return { id: i + 1, file_name: im.file_name, width: im.width,
                                                               height: im.height, skyscan_path: im.path }; }),
             categories: D.classes.map(function (c, i) { return { id: i + 1, name: c }; }),
             annotations: anns, skyscan_negatives: negs };
  }
  // RFC 7946 GeoJSON: polygons in lon/lat (each crop and view carries its pixel -> lon/lat map).
  function geojson() {
    var feats = [];
    D.images.forEach(function (im, i) {
      labelsOf(i).forEach(function (l) {
        var geom = null, b = l.box, t = l.ll;
        if (t) {  // lon = a*col + b*row + c, lat = d*col + e*row + f
          var pt = function (c, r) { return [t[0] * c + t[1] * r + t[2], t[3] * c + t[4] * r + t[5]]; };
          geom = { type: "Polygon", coordinates: [[pt(b[0], b[1]), pt(b[0], b[3]), pt(b[2], b[3]), pt(b[2], b[1]), pt(b[0], b[1])]] };
        }
        feats.push({ type: "Feature", geometry: geom, properties: {
          image: im.file_name, image_path: im.path, class_name: l.cls, detected_class: l.detected, status: l.status,
          negative: l.status === "rejected", id: l.id, score: l.score,
          px_xmin: b[0], px_ymin: b[1], px_xmax: b[2], px_ymax: b[3], image_crs: im.crs } });
      });
    });
    return { type: "FeatureCollection", features: feats, skyscan: summary() };
  }

  // A zip of stored (uncompressed) files: enough for a few label files, no library needed.
  var CRC = (function () {
    var t = new Uint32Array(256);
    for (var n = 0; n < 256; n++) {
      var c = n;
      for (var k = 0; k < 8; k++) { c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; }
      t[n] = c >>> 0;
    }
    return t;
  })();
  function crc32(bytes) {
    var c = 0xffffffff;
    for (var i = 0; i < bytes.length; i++) { c = CRC[(c ^ bytes[i]) & 0xff] ^ (c >>> 8); }
    return (c ^ 0xffffffff) >>> 0;
  }
  function zip(files) {
    var enc = new TextEncoder(), parts = [], central = [], offset = 0;
    function u16(v) { return [v & 0xff, (v >>> 8) & 0xff]; }
    function u32(v) { return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff]; }
    files.forEach(function (f) {
      var name = enc.encode(f.name), data = enc.encode(f.text), crc = crc32(data);
      var common = [].concat(u16(20), u16(0x0800), u16(0), u16(0), u16(0x21), u32(crc), u32(data.length), u32(data.length),
                             u16(name.length), u16(0));
      var local = new Uint8Array([].concat(u32(0x04034b50), common));
      parts.push(local, name, data);
      central.push(new Uint8Array([].concat(u32(0x02014b50), u16(20), common, u16(0), u16(0), u16(0), u32(0), u32(offset))), name);
      offset += local.length + name.length + data.length;
    });
    var size = central.reduce(function (s, p) { return s + p.length; }, 0);
    var end = new Uint8Array([].concat(u32(0x06054b50), u16(0), u16(0), u16(files.length), u16(files.length),
                                       u32(size), u32(offset), u16(0)));
    return new Blob(parts.concat(central, [end]), { type: "application/zip" });
  }
  function download(blob, name) {
    var a = document.createElement("a");
    a.href = URL.createObjectURL(blob); a.download = name;
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(function () { URL.revokeObjectURL(a.href); }, 60000);
  }
  function json(obj) { return new Blob([JSON.stringify(obj)], { type: "application/json" }); }
  var exporters = {
    yolo: function () { download(zip(yoloFiles()), "review-yolo.zip"); },
    coco: function () { download(json(coco()), "review-coco.json"); },
    geojson: function () { download(json(geojson()), "review.geojson"); }
  };

  // ---- wiring ------------------------------------------------------------------------------
  function setMode(m) { S.mode = m; selected = null; save(); render(); }
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    var k = ev.key;
    if (k === "u") { undo(); }
    else if (k === "d") { setMode("crops"); }
    else if (k === "v") { setMode("views"); }
    else if (k === "j" || k === "ArrowRight" || k === "ArrowDown") { move(1); }
    else if (k === "k" || k === "ArrowLeft" || k === "ArrowUp") { move(-1); }
    else if (S.mode === "crops" && k === "a") { decide("accept"); }
    else if (S.mode === "crops" && k === "r") { decide("reject"); }
    else if (S.mode === "crops" && k === "n") { nextUndecided(); }
    else if (S.mode === "crops" && (k === "1" || k === "2" || k === "3")) { decide("accept", D.classes[Number(k) - 1]); }
    else if (S.mode === "views" && (k === "1" || k === "2" || k === "3")) { S.cls = Number(k) - 1; save(); render(); }
    else if (S.mode === "views" && (k === "x" || k === "Delete" || k === "Backspace")) { deleteSelected(); }
    else if (S.mode === "views" && (k === "a" || k === "r")) { decideSelected(k === "a" ? "accept" : "reject"); }
    else { return; }
    ev.preventDefault();
  });
  var viewBox = document.getElementById("view");
  viewBox.addEventListener("mousedown", onDown);
  document.addEventListener("mousemove", onMove);
  document.addEventListener("mouseup", onUp);
  document.getElementById("tab-crops").addEventListener("click", function () { setMode("crops"); });
  document.getElementById("tab-views").addEventListener("click", function () { setMode("views"); });
  Object.keys(exporters).forEach(function (name) {
    document.getElementById("export-" + name).addEventListener("click", exporters[name]);
  });
  var notes = document.getElementById("notes");
  D.notes.forEach(function (n) { notes.appendChild(el("li", "", n)); });
  load();
  render();
  // For scripts and tests: the state, and the exports as objects.
  window.skyscan = { ready: true, pageId: D.page_id, storageKey: KEY,
                     state: function () { return JSON.parse(JSON.stringify(S)); },
                     coco: coco, geojson: geojson, yoloFiles: yoloFiles };
})();
