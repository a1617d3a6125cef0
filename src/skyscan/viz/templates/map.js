/* skyscan offline map (skyscan's own code; Leaflet is inlined before this script).
 *
 * Reads the JSON block #skyscan-data written by skyscan.viz.build and builds:
 *   - imagery overlays (pre-warped to Web Mercator by Python),
 *   - a canvas heatmap over Python-aggregated cells,
 *   - a canvas point layer over typed arrays (one circle per detection, popups by hit test),
 *   - optional GeoJSON layers (H3 cells, zones, clusters), a legend and a layer switcher,
 *   - an offline basemap (land, coast, borders, place names) carried in the page.
 * Points arrive quantised in a Web Mercator frame, so placing one on screen is one
 * multiply-add per axis: a million of them redraw in well under a second.
 * window.skyscan exposes the map and layers to notebooks and tests.
 */
(function () {
  'use strict';

  const timings = { scriptStart: performance.now() };
  const data = JSON.parse(document.getElementById('skyscan-data').textContent);
  timings.parsed = performance.now();
  const R = 6378137;

  function decode(p) {
    const bin = atob(p.b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    switch (p.dtype) {
      case 'u1': return bytes;
      case 'u2': return new Uint16Array(bytes.buffer);
      case 'u4': return new Uint32Array(bytes.buffer);
      case 'i2': return new Int16Array(bytes.buffer);
      case 'f4': return new Float32Array(bytes.buffer);
      default: throw new Error('skyscan: unknown array type ' + p.dtype);
    }
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Web Mercator metres -> container pixels at the map's current view: x = ax*X + bx.
  function projector(map) {
    const crs = map.options.crs;
    const s = crs.scale(map.getZoom());
    const p0 = crs.transformation.transform(L.point(0, 0), s);
    const p1 = crs.transformation.transform(L.point(1, 1), s);
    const off = map.layerPointToContainerPoint(L.point(0, 0)).subtract(map.getPixelOrigin());
    return { ax: p1.x - p0.x, bx: p0.x + off.x, ay: p1.y - p0.y, by: p0.y + off.y };
  }

  function mercatorToLatLng(x, y) {
    return L.latLng((2 * Math.atan(Math.exp(y / R)) - Math.PI / 2) * 180 / Math.PI, x / R * 180 / Math.PI);
  }

  // A CSS colour as a little-endian RGBA pixel (for Uint32Array views of ImageData).
  const colourCache = {};
  function rgba(css) {
    if (colourCache[css] !== undefined) return colourCache[css];
    const c = el('canvas');
    c.width = c.height = 1;
    const ctx = c.getContext('2d', { willReadFrequently: true });
    ctx.fillStyle = css;
    ctx.fillRect(0, 0, 1, 1);
    const d = ctx.getImageData(0, 0, 1, 1).data;
    colourCache[css] = ((255 << 24) | (d[2] << 16) | (d[1] << 8) | d[0]) >>> 0;
    return colourCache[css];
  }

  // Pixel offsets of a disc of radius r, the outer ring marked as edge (the outline).
  function discStamp(r) {
    const dx = [], dy = [], edge = [];
    const R = Math.ceil(r);
    for (let y = -R; y <= R; y++) {
      for (let x = -R; x <= R; x++) {
        const d = Math.sqrt(x * x + y * y);
        if (d > r + 0.5) continue;
        dx.push(x);
        dy.push(y);
        edge.push(d > r - 0.5 ? 1 : 0);
      }
    }
    return { dx: dx, dy: dy, edge: edge };
  }

  // A canvas that covers the view plus a margin (so a pan shows drawn data), redrawn
  // after each move or zoom; hidden during zoom animations (leaflet-zoom-hide).
  const CanvasLayer = L.Layer.extend({
    options: { pad: 0.2 },

    onAdd: function (map) {
      this._canvas = el('canvas', 'skyscan-canvas leaflet-zoom-hide ' + (this.options.className || ''));
      this.getPane().appendChild(this._canvas);
      map.on('moveend zoomend resize viewreset', this.redraw, this);
      this.redraw();
    },

    onRemove: function (map) {
      map.off('moveend zoomend resize viewreset', this.redraw, this);
      L.DomUtil.remove(this._canvas);
      this._canvas = null;
    },

    redraw: function () {
      if (!this._map || !this._canvas) return;
      const started = performance.now();
      const map = this._map;
      const size = map.getSize();
      const padX = Math.round(size.x * this.options.pad);
      const padY = Math.round(size.y * this.options.pad);
      // A canvas may hold fewer pixels than it covers (scale < 1): the heatmap is a blur.
      const scale = this.options.scale || 1;
      const w = Math.round((size.x + 2 * padX) * scale);
      const h = Math.round((size.y + 2 * padY) * scale);
      const canvas = this._canvas;
      if (canvas.width !== w || canvas.height !== h) {
        canvas.width = w;
        canvas.height = h;
        canvas.style.width = (size.x + 2 * padX) + 'px';
        canvas.style.height = (size.y + 2 * padY) + 'px';
      }
      L.DomUtil.setPosition(canvas, map.containerPointToLayerPoint([-padX, -padY]));
      const ctx = canvas.getContext('2d', { willReadFrequently: !!this.options.readBack });
      ctx.clearRect(0, 0, w, h);
      const p = projector(map);
      this._draw(ctx, { ax: p.ax * scale, bx: (p.bx + padX) * scale, ay: p.ay * scale, by: (p.by + padY) * scale }, w, h, scale);
      this._offset = L.point(padX, padY);
      ctx.getImageData(0, 0, 1, 1);  // canvas draws lazily: flush, so the timing is real
      this.lastDrawMs = performance.now() - started;
    },
  });

  // Heatmap: cells summed into screen buckets of radius/2, blobs drawn in alpha,
  // then coloured through a palette (the classic heatmap technique).
  const HeatLayer = CanvasLayer.extend({
    options: { pad: 0.2, radius: 16, minOpacity: 0.2, scale: 0.5, className: 'skyscan-heat', readBack: true, pane: 'skyscanHeat' },

    initialize: function (heat, options) {
      L.setOptions(this, options);
      this._col = decode(heat.col);
      this._row = decode(heat.row);
      this._count = decode(heat.count);
      this._cell = heat.cell;
      this._ix0 = heat.ix0;
      this._iy0 = heat.iy0;
      this._sprites = {};
      this._palette = this._makePalette();
    },

    _makePalette: function () {
      const c = el('canvas');
      c.width = 256;
      c.height = 1;
      const ctx = c.getContext('2d');
      const g = ctx.createLinearGradient(0, 0, 256, 0);
      g.addColorStop(0.0, 'rgb(0,0,255)');
      g.addColorStop(0.4, 'rgb(0,0,255)');
      g.addColorStop(0.6, 'rgb(0,255,255)');
      g.addColorStop(0.7, 'rgb(0,255,0)');
      g.addColorStop(0.8, 'rgb(255,255,0)');
      g.addColorStop(1.0, 'rgb(255,0,0)');
      ctx.fillStyle = g;
      ctx.fillRect(0, 0, 256, 1);
      return ctx.getImageData(0, 0, 256, 1).data;
    },

    _sprite: function (r) {
      if (this._sprites[r]) return this._sprites[r];
      const c = el('canvas');
      c.width = c.height = 2 * r;
      const ctx = c.getContext('2d');
      const g = ctx.createRadialGradient(r, r, 0, r, r, r);
      g.addColorStop(0, 'rgba(0,0,0,1)');
      g.addColorStop(0.45, 'rgba(0,0,0,0.7)');
      g.addColorStop(1, 'rgba(0,0,0,0)');
      ctx.fillStyle = g;
      ctx.fillRect(0, 0, 2 * r, 2 * r);
      this._sprites[r] = c;
      return c;
    },

    _draw: function (ctx, P, w, h, scale) {
      const n = this._count.length;
      if (!n) return;
      const cell = this._cell;
      // A cell coarser than the blob would leave gaps: grow the blob with it.
      const r = Math.round(Math.max(this.options.radius * scale, Math.abs(P.ax) * cell * 1.3));
      const bs = Math.max(2, r * 0.6);
      const gw = Math.ceil((w + 2 * r) / bs) + 1;
      const gh = Math.ceil((h + 2 * r) / bs) + 1;
      const sum = new Float64Array(gw * gh);
      const sx = new Float64Array(gw * gh);
      const sy = new Float64Array(gw * gh);
      const col = this._col, row = this._row, count = this._count;
      const kx = P.ax * cell, cx = P.ax * (this._ix0 + 0.5) * cell + P.bx;
      const ky = P.ay * cell, cy = P.ay * (this._iy0 + 0.5) * cell + P.by;
      for (let k = 0; k < n; k++) {
        const x = kx * col[k] + cx;
        const y = ky * row[k] + cy;
        if (x < -r || y < -r || x > w + r || y > h + r) continue;
        const i = Math.floor((y + r) / bs) * gw + Math.floor((x + r) / bs);
        const c = count[k];
        sum[i] += c;
        sx[i] += x * c;
        sy[i] += y * c;
      }
      let max = 0;
      for (let i = 0; i < sum.length; i++) if (sum[i] > max) max = sum[i];
      if (!max) return;
      const sprite = this._sprite(r);
      const minOpacity = this.options.minOpacity;
      for (let i = 0; i < sum.length; i++) {
        const v = sum[i];
        if (!v) continue;
        ctx.globalAlpha = Math.max(minOpacity, Math.min(1, Math.sqrt(v / max)));
        ctx.drawImage(sprite, sx[i] / v - r, sy[i] / v - r);
      }
      ctx.globalAlpha = 1;
      const img = ctx.getImageData(0, 0, w, h);
      const px = img.data;
      const pal = this._palette;
      for (let i = 3; i < px.length; i += 4) {
        const a = px[i];
        if (!a) continue;
        const j = a * 4;
        px[i - 3] = pal[j];
        px[i - 2] = pal[j + 1];
        px[i - 1] = pal[j + 2];
      }
      ctx.putImageData(img, 0, 0);
      this.maxBucket = max;
    },
  });

  // Detections as circles coloured per class, drawn per class with one path each;
  // a point landing on a pixel already drawn for its class is skipped.
  const PointsLayer = CanvasLayer.extend({
    // footprintPx: a footprint this many pixels from centre to corner replaces the circle
    options: { pad: 0.2, className: 'skyscan-points', pane: 'skyscanPoints', maxVisible: 30000, onStatus: null, footprintPx: 7 },

    initialize: function (markers, frame, classes, images, imagePaths, options) {
      L.setOptions(this, options);
      this.n = markers.n;
      this._qx = decode(markers.qx);
      this._qy = decode(markers.qy);
      this._cls = decode(markers.cls);
      this._img = decode(markers.img);
      this._score = decode(markers.score);
      // 1: outside the model's validated range, drawn hollow (older pages have no 'out')
      this._out = markers.out ? decode(markers.out) : new Uint8Array(this.n);
      // Footprint corners (Web Mercator decimetres from the centre, 4 x/y pairs each;
      // all zero = none): drawn as outlines once they are big enough on screen.
      this._fp = markers.fp ? decode(markers.fp) : null;
      this._fpHalf = new Float32Array(this.n);  // metres from the centre to the farthest corner
      if (this._fp) {
        for (let i = 0; i < this.n; i++) {
          let m = 0;
          for (let k = 0; k < 8; k++) m = Math.max(m, Math.abs(this._fp[8 * i + k]));
          this._fpHalf[i] = m / 10;
        }
      }
      this._frame = frame;
      this._classes = classes;
      this._images = images;
      this._imagePaths = imagePaths;
      // Indices per class, in score order; the most frequent class is drawn first.
      const counts = new Uint32Array(classes.length);
      for (let i = 0; i < this.n; i++) counts[this._cls[i]]++;
      this._byClass = Array.from(counts, (c) => new Uint32Array(c));
      const fill = new Uint32Array(classes.length);
      for (let i = 0; i < this.n; i++) { const c = this._cls[i]; this._byClass[c][fill[c]++] = i; }
      this._order = classes.map((_, i) => i).sort((a, b) => counts[b] - counts[a]);
    },

    onAdd: function (map) {
      CanvasLayer.prototype.onAdd.call(this, map);
      map.on('click', this._onClick, this);
      map.on('mousemove', this._onMove, this);
    },

    onRemove: function (map) {
      map.off('click', this._onClick, this);
      map.off('mousemove', this._onMove, this);
      L.DomUtil.removeClass(map.getContainer(), 'leaflet-interactive-points');
      CanvasLayer.prototype.onRemove.call(this, map);
      this._hit = null;
    },

    _draw: function (ctx, P, w, h) {
      const f = this._frame;
      const axq = P.ax * (f.x1 - f.x0) / f.q, bxq = P.ax * f.x0 + P.bx;
      const ayq = P.ay * (f.y1 - f.y0) / f.q, byq = P.ay * f.y0 + P.by;
      const qx = this._qx, qy = this._qy, n = this.n;
      // Screen positions once; count what is visible to size the circles.
      const sx = new Float32Array(n), sy = new Float32Array(n);
      let visible = 0;
      for (let i = 0; i < n; i++) {
        const x = axq * qx[i] + bxq, y = ayq * qy[i] + byq;
        sx[i] = x;
        sy[i] = y;
        if (x >= 0 && y >= 0 && x < w && y < h) visible++;
      }
      this.visible = visible;
      // Too many to tell apart: leave the view to the heatmap until the user zooms in.
      this.suppressed = visible > this.options.maxVisible;
      if (this.options.onStatus) this.options.onStatus(this);
      if (this.suppressed) {
        this._hit = null;
        return;
      }
      // Few points: anti-aliased vector circles. Many: stamp small discs straight into
      // the pixels (a path of a million arcs would take Skia seconds to rasterise).
      const stamped = visible > 3000;
      const r = visible > 20000 ? 2 : stamped ? 3 : 5.5;
      this.radius = r;
      // Zoomed in: footprints (box outlines) instead of discs, so the vehicle shows through.
      const pxPerM = Math.abs(P.ax);
      const useFp = !stamped && this._fp !== null;
      const fpMin = this.options.footprintPx;
      const isFp = (i) => useFp && this._fpHalf[i] * pxPerM >= fpMin;
      let reach = r, footprints = 0;
      const cs = 16;
      const gw = Math.ceil(w / cs), gh = Math.ceil(h / cs);
      const head = new Int32Array(gw * gh).fill(-1);
      const next = new Int32Array(n).fill(-1);
      const seen = new Uint8Array(w * h);
      const img = stamped ? ctx.createImageData(w, h) : null;
      const pixels = stamped ? new Uint32Array(img.data.buffer) : null;
      const stamp = stamped ? discStamp(r) : null;
      ctx.lineWidth = r > 3 ? 1.5 : 1;
      for (const c of this._order) {
        const idx = this._byClass[c];
        if (!idx.length) continue;
        const fill = rgba(this._classes[c].colour);
        const outline = rgba(this._classes[c].outline);
        seen.fill(0);
        const hollow = [], boxes = [], dashed = [];
        if (!stamped) ctx.beginPath();
        for (let k = 0; k < idx.length; k++) {
          const i = idx[k];
          const x = sx[i], y = sy[i];
          if (x < -r || y < -r || x >= w + r || y >= h + r) continue;
          const xi = x | 0, yi = y | 0;
          if (xi >= 0 && yi >= 0 && xi < w && yi < h) {
            const key = yi * w + xi;
            if (seen[key]) continue;
            seen[key] = 1;
            const g = Math.floor(yi / cs) * gw + Math.floor(xi / cs);
            next[i] = head[g];
            head[g] = i;
          }
          const out = this._out[i] === 1;
          if (isFp(i)) {
            (out ? dashed : boxes).push(i);
            reach = Math.max(reach, Math.min(80, this._fpHalf[i] * pxPerM));
          } else if (stamped) {
            for (let s = 0; s < stamp.dx.length; s++) {
              const px = xi + stamp.dx[s], py = yi + stamp.dy[s];
              if (px >= 0 && py >= 0 && px < w && py < h && (stamp.edge[s] || !out)) {
                pixels[py * w + px] = stamp.edge[s] ? (out ? fill : outline) : fill;
              }
            }
          } else if (out) {
            hollow.push(i);
          } else {
            ctx.moveTo(x + r, y);
            ctx.arc(x, y, r, 0, 2 * Math.PI);
          }
        }
        if (!stamped) {
          ctx.fillStyle = this._classes[c].colour;
          ctx.fill();
          ctx.strokeStyle = 'rgba(20,20,20,0.9)';
          ctx.stroke();
          if (hollow.length) {  // outside the validated range: a ring in the class colour
            ctx.beginPath();
            for (const i of hollow) {
              ctx.moveTo(sx[i] + r, sy[i]);
              ctx.arc(sx[i], sy[i], r, 0, 2 * Math.PI);
            }
            const lw = ctx.lineWidth;
            ctx.lineWidth = 2.5;
            ctx.strokeStyle = this._classes[c].colour;
            ctx.stroke();
            ctx.lineWidth = lw;
          }
          footprints += boxes.length + dashed.length;
          this._drawFootprints(ctx, boxes, dashed, sx, sy, P, this._classes[c]);
        }
      }
      if (stamped) ctx.putImageData(img, 0, 0);
      this.footprints = footprints;
      this._hit = { sx: sx, sy: sy, head: head, next: next, gw: gw, gh: gh, cs: cs, r: reach };
    },

    // Box outlines in the class colour over a dark edge (a white bus shows on light
    // ground); dashed for detections outside the validated range. Nothing is filled.
    _drawFootprints: function (ctx, solid, dashed, sx, sy, P, cls) {
      const fp = this._fp, kx = P.ax / 10, ky = P.ay / 10;
      const path = (list) => {
        ctx.beginPath();
        for (const i of list) {
          const o = 8 * i;
          ctx.moveTo(sx[i] + kx * fp[o], sy[i] + ky * fp[o + 1]);
          for (let k = 1; k < 4; k++) ctx.lineTo(sx[i] + kx * fp[o + 2 * k], sy[i] + ky * fp[o + 2 * k + 1]);
          ctx.closePath();
        }
      };
      const lw = ctx.lineWidth;
      for (const [list, dash] of [[solid, []], [dashed, [5, 4]]]) {
        if (!list.length) continue;
        path(list);
        ctx.setLineDash(dash);
        ctx.lineWidth = 4;
        ctx.strokeStyle = cls.outline;
        ctx.stroke();
        ctx.lineWidth = 2;
        ctx.strokeStyle = cls.colour;
        ctx.stroke();
      }
      ctx.setLineDash([]);
      ctx.lineWidth = lw;
    },

    // The detection under a container point (topmost = drawn last wins ties), or -1.
    hitTest: function (containerPoint) {
      const H = this._hit;
      if (!H || !this._offset) return -1;
      const x = containerPoint.x + this._offset.x, y = containerPoint.y + this._offset.y;
      const reach = H.r + 3;
      let best = -1, bestD = reach * reach;
      const g0 = Math.max(0, Math.floor((x - reach) / H.cs)), g1 = Math.min(H.gw - 1, Math.floor((x + reach) / H.cs));
      const h0 = Math.max(0, Math.floor((y - reach) / H.cs)), h1 = Math.min(H.gh - 1, Math.floor((y + reach) / H.cs));
      for (let gy = h0; gy <= h1; gy++) {
        for (let gx = g0; gx <= g1; gx++) {
          for (let i = H.head[gy * H.gw + gx]; i !== -1; i = H.next[i]) {
            const dx = H.sx[i] - x, dy = H.sy[i] - y, d = dx * dx + dy * dy;
            if (d <= bestD) { bestD = d; best = i; }
          }
        }
      }
      return best;
    },

    latLngOf: function (i) {
      const f = this._frame;
      return mercatorToLatLng(f.x0 + this._qx[i] * (f.x1 - f.x0) / f.q, f.y0 + this._qy[i] * (f.y1 - f.y0) / f.q);
    },

    popupFor: function (i) {
      const ll = this.latLngOf(i);
      const box = el('div', 'skyscan-popup');
      box.appendChild(el('b', 'skyscan-popup-class', this._classes[this._cls[i]].name));
      const table = el('table');
      const s = this._score[i];
      const rows = [
        ['score', s === 65535 ? 'n/a' : (s / 65534).toFixed(3)],
        ['image', this._images[this._img[i]]],
        ['lon', ll.lng.toFixed(6)],
        ['lat', ll.lat.toFixed(6)],
      ];
      if (this._out[i] === 1) rows.push(['model range', 'outside the validated range']);
      for (const [k, v] of rows) {
        const tr = el('tr');
        tr.appendChild(el('td', '', k));
        const td = el('td', '', v);
        if (k === 'image') td.title = this._imagePaths[this._img[i]];
        tr.appendChild(td);
        table.appendChild(tr);
      }
      box.appendChild(table);
      return { latlng: ll, content: box };
    },

    _onClick: function (e) {
      const i = this.hitTest(e.containerPoint);
      if (i < 0) return;
      const p = this.popupFor(i);
      L.popup({ offset: [0, -this.radius] }).setLatLng(p.latlng).setContent(p.content).openOn(this._map);
      // Input event to popup in the DOM (the event's timeStamp is when the click happened).
      this.lastClickMs = performance.now() - (e.originalEvent ? e.originalEvent.timeStamp : performance.now());
    },

    _onMove: function (e) {
      const over = this.hitTest(e.containerPoint) >= 0;
      const container = this._map.getContainer();
      if (over) L.DomUtil.addClass(container, 'leaflet-interactive-points');
      else L.DomUtil.removeClass(container, 'leaflet-interactive-points');
    },
  });

  // The offline basemap: typed arrays of lon/lat (float32) with ring / polygon / line ends.
  const BASE_STYLE = { land: '#f4f1ea', coast: '#7f9db5', border: '#a08fa8', sea: '#c6dbea' };

  function lonLatRuns(xy, ends) {
    const runs = [];
    let start = 0;
    for (const end of ends) {
      const run = [];
      for (let k = start; k < end; k++) run.push([xy[2 * k + 1], xy[2 * k]]);
      runs.push(run);
      start = end;
    }
    return runs;
  }

  function mercatorXY(lon, lat) {
    return [R * lon * Math.PI / 180, R * Math.log(Math.tan(Math.PI / 4 + lat * Math.PI / 360))];
  }

  // Country and town names, drawn on a canvas biggest first; a name that would overlap
  // one already drawn is left out, and towns show by population as the zoom allows.
  const LabelsLayer = CanvasLayer.extend({
    options: { pad: 0.1, className: 'skyscan-labels', pane: 'skyscanLabels' },

    initialize: function (bm, options) {
      L.setOptions(this, options);
      const p = bm.places;
      this._towns = p.name.map((name, i) => ({ name: name, pop: p.population[i], xy: mercatorXY(p.lon[i], p.lat[i]) }));
      this._countries = bm.countries.map((c) => ({ name: c.name, minzoom: c.minzoom, xy: mercatorXY(c.lon, c.lat) }));
    },

    _minPopulation: function (z) {
      return z < 3 ? 8e6 : z < 4 ? 4e6 : z < 5 ? 2e6 : z < 6 ? 5e5 : z < 7 ? 2e5 : z < 8 ? 1e5 : z < 9 ? 4e4 : 0;
    },

    _draw: function (ctx, P, w, h) {
      const z = this._map.getZoom();
      const taken = [];
      const free = (b) => taken.every((t) => b[0] > t[2] || b[2] < t[0] || b[1] > t[3] || b[3] < t[1]);
      const shown = [];
      ctx.textBaseline = 'middle';
      ctx.lineJoin = 'round';
      if (z < 7) {
        ctx.font = '600 12px system-ui, sans-serif';
        for (const c of this._countries) {
          if (z < c.minzoom) continue;
          const x = P.ax * c.xy[0] + P.bx, y = P.ay * c.xy[1] + P.by;
          const tw = ctx.measureText(c.name).width;
          const b = [x - tw / 2 - 2, y - 8, x + tw / 2 + 2, y + 8];
          if (b[2] < 0 || b[0] > w || b[3] < 0 || b[1] > h || !free(b)) continue;
          taken.push(b);
          ctx.lineWidth = 3;
          ctx.strokeStyle = 'rgba(255,255,255,0.85)';
          ctx.strokeText(c.name, b[0] + 2, y);
          ctx.fillStyle = '#6d6272';
          ctx.fillText(c.name, b[0] + 2, y);
          shown.push(c.name);
        }
      }
      const minPop = this._minPopulation(z);
      for (const t of this._towns) {  // biggest first (sorted in Python)
        if (t.pop < minPop) break;
        const x = P.ax * t.xy[0] + P.bx, y = P.ay * t.xy[1] + P.by;
        if (x < -50 || x > w + 50 || y < -10 || y > h + 10) continue;
        const big = t.pop >= 1e6;
        ctx.font = (big ? '600 12px' : '11px') + ' system-ui, sans-serif';
        const tw = ctx.measureText(t.name).width;
        const b = [x - 4, y - 8, x + 7 + tw, y + 8];
        if (!free(b)) continue;
        taken.push(b);
        ctx.beginPath();
        ctx.arc(x, y, big ? 3 : 2.5, 0, 2 * Math.PI);
        ctx.fillStyle = '#3b3b3b';
        ctx.fill();
        ctx.lineWidth = 3;
        ctx.strokeStyle = 'rgba(255,255,255,0.85)';
        ctx.strokeText(t.name, x + 6, y);
        ctx.fillStyle = '#222';
        ctx.fillText(t.name, x + 6, y);
        shown.push(t.name);
      }
      this.shown = shown;  // for tests and notebooks: the names on screen
    },
  });

  function basemapLayer(bm) {
    const land = decode(bm.land.xy), rings = decode(bm.land.rings), polys = decode(bm.land.polys);
    const ringRuns = lonLatRuns(land, rings);
    const polygons = [];
    let start = 0;
    for (const end of polys) {
      polygons.push(ringRuns.slice(start, end));
      start = end;
    }
    const renderer = L.canvas({ pane: 'skyscanBase', padding: 0.3 });
    const common = { renderer: renderer, pane: 'skyscanBase', interactive: false, smoothFactor: 0.5 };
    const group = L.layerGroup([
      L.polygon(polygons, Object.assign({ color: BASE_STYLE.coast, weight: 1, fillColor: BASE_STYLE.land, fillOpacity: 1 }, common)),
      L.polyline(lonLatRuns(decode(bm.borders.xy), decode(bm.borders.ends)),
        Object.assign({ color: BASE_STYLE.border, weight: 1.2, dashArray: '5 3' }, common)),
      new LabelsLayer(bm),
    ]);
    group.getAttribution = () => bm.attribution;
    // the sea is the map's background while the basemap is on
    group.on('add', () => { L.DomUtil.addClass(group._map.getContainer(), 'skyscan-has-basemap'); });
    group.on('remove', () => { L.DomUtil.removeClass(group._map.getContainer(), 'skyscan-has-basemap'); });
    return group;
  }

  function propertiesTable(props) {
    const table = el('table', 'skyscan-popup');
    for (const key of Object.keys(props || {})) {
      const tr = el('tr');
      tr.appendChild(el('td', '', key));
      tr.appendChild(el('td', '', String(props[key])));
      table.appendChild(tr);
    }
    return table;
  }

  const RAMP = [[242, 240, 247], [203, 201, 226], [158, 154, 200], [117, 107, 177], [84, 39, 143]];
  function ramp(t) {
    const x = Math.max(0, Math.min(1, t)) * (RAMP.length - 1);
    const i = Math.min(RAMP.length - 2, Math.floor(x)), f = x - i;
    const c = RAMP[i].map((v, k) => Math.round(v + (RAMP[i + 1][k] - v) * f));
    return 'rgb(' + c.join(',') + ')';
  }

  function vectorLayer(kind, collection, renderer) {
    if (kind === 'h3') {
      let max = 1;
      for (const f of collection.features) max = Math.max(max, f.properties.count);
      return L.geoJSON(collection, {
        renderer: renderer,
        style: (f) => ({ color: '#3f007d', weight: 1, opacity: 0.6, fillColor: ramp(Math.log1p(f.properties.count) / Math.log1p(max)), fillOpacity: 0.45 }),
        onEachFeature: (f, layer) => layer.bindPopup(() => propertiesTable(f.properties)),
      });
    }
    const colour = kind === 'zones' ? '#1f4e9c' : '#6a3d9a';
    return L.geoJSON(collection, {
      renderer: renderer,
      style: () => ({ color: colour, weight: 2, fillOpacity: 0.08, dashArray: kind === 'clusters' ? '5 4' : null }),
      pointToLayer: (f, ll) => L.circleMarker(ll, { renderer: renderer, radius: 8, color: colour, weight: 2, fillOpacity: 0.1 }),
      onEachFeature: (f, layer) => layer.bindPopup(() => propertiesTable(f.properties)),
    });
  }

  function legendControl(notes, hasH3) {
    const Legend = L.Control.extend({
      options: { position: 'bottomright' },
      onAdd: function () {
        const div = el('div', 'skyscan-legend');
        div.appendChild(el('h2', '', data.title));
        const shown = data.n_points, total = data.n_input;
        div.appendChild(el('div', 'skyscan-count',
          shown.toLocaleString('en') + ' detection' + (shown === 1 ? '' : 's') +
          (total !== shown ? ' on the map (' + total.toLocaleString('en') + ' in the input)' : '')));
        for (const c of data.classes) {
          if (!c.count) continue;
          const row = el('div', 'row');
          const sw = el('span', 'skyscan-swatch');
          sw.style.background = c.colour;
          row.appendChild(sw);
          row.appendChild(el('span', '', c.name + ' — ' + c.count.toLocaleString('en')));
          div.appendChild(row);
        }
        const heatRow = el('div', 'row');
        const heatRamp = el('span', 'skyscan-ramp');
        heatRamp.style.background = 'linear-gradient(to right, rgb(0,0,255), rgb(0,255,255), rgb(0,255,0), rgb(255,255,0), rgb(255,0,0))';
        heatRow.appendChild(heatRamp);
        heatRow.appendChild(el('span', '', 'density'));
        div.appendChild(heatRow);
        if (hasH3) {
          const h3Row = el('div', 'row');
          const h3Ramp = el('span', 'skyscan-ramp');
          h3Ramp.style.background = 'linear-gradient(to right, ' + [0, 0.5, 1].map(ramp).join(', ') + ')';
          h3Row.appendChild(h3Ramp);
          h3Row.appendChild(el('span', '', 'H3 count'));
          div.appendChild(h3Row);
        }
        if (data.places && data.places.length > 1) {
          // jump between the images, most detections first
          const select = el('select', 'skyscan-places');
          select.appendChild(el('option', '', 'Go to an image (' + data.places.length + ')…'));
          data.places.forEach((p, i) => {
            const option = el('option', '', p.name + ' — ' + p.count.toLocaleString('en') + (p.near ? ' · ' + p.near : ''));
            option.value = String(i);
            select.appendChild(option);
          });
          const all = el('option', '', 'All detections');
          all.value = 'all';
          select.appendChild(all);
          select.addEventListener('change', () => {
            const place = select.value === 'all' ? { bounds: data.bounds } : data.places[Number(select.value)];
            if (place && place.bounds) this._map.fitBounds(place.bounds, { padding: [30, 30], maxZoom: 19 });
          });
          div.appendChild(select);
        }
        this._status = el('div', 'skyscan-status');
        div.appendChild(this._status);
        this._notes = el('ul', 'skyscan-notes');
        div.appendChild(this._notes);
        for (const n of notes) this.addNote(n);
        L.DomEvent.disableClickPropagation(div);
        L.DomEvent.disableScrollPropagation(div);
        return div;
      },
      setStatus: function (text) {
        if (this._status) this._status.textContent = text;
      },
      addNote: function (text) {
        this._notes.appendChild(el('li', '', text));
      },
    });
    return new Legend();
  }

  function init() {
    const map = L.map('map', { preferCanvas: true, maxZoom: 22, zoomSnap: 0.25 });
    map.createPane('skyscanBase').style.zIndex = 150;
    map.createPane('skyscanLabels').style.zIndex = 240;  // under the imagery: it is the detail
    map.createPane('skyscanImagery').style.zIndex = 250;
    map.createPane('skyscanHeat').style.zIndex = 410;
    map.createPane('skyscanVectors').style.zIndex = 420;
    map.createPane('skyscanPoints').style.zIndex = 450;
    if (data.view || data.bounds) {
      // open where most detections are (everything at once can span continents)
      map.fitBounds(data.view || data.bounds, { padding: [30, 30], maxZoom: 19 });
    } else {
      map.setView([20, 0], 2);
    }

    const layers = {};
    const overlays = {};
    const none = L.layerGroup();
    const bases = { 'No basemap': none };
    const legend = legendControl(data.notes, !!data.vectors.h3);
    legend.addTo(map);  // before the layers: they report their status into it
    if (data.basemap) {
      layers.basemap = basemapLayer(data.basemap);
      layers.labels = layers.basemap.getLayers()[2];
      bases['Basemap (offline)'] = layers.basemap;
      layers.basemap.addTo(map);
    } else {
      none.addTo(map);
    }
    layers.none = none;

    if (data.overlays.length) {
      layers.imagery = L.layerGroup(data.overlays.map((o) =>
        L.imageOverlay(o.url, o.bounds, { pane: 'skyscanImagery', alt: o.name })));
      overlays['Imagery (' + data.overlays.length + ')'] = layers.imagery;
    }
    layers.heat = new HeatLayer(data.heat);
    overlays['Heatmap'] = layers.heat;
    const renderer = L.canvas({ pane: 'skyscanVectors' });
    const vectorNames = { h3: 'H3 cells', zones: 'Zones', clusters: 'Clusters' };
    for (const kind of ['h3', 'zones', 'clusters']) {
      if (!data.vectors[kind]) continue;
      layers[kind] = vectorLayer(kind, data.vectors[kind], renderer);
      const suffix = kind === 'h3' ? ' (res ' + data.vectors.h3.resolution + ')' : '';
      overlays[vectorNames[kind] + suffix] = layers[kind];
    }
    layers.points = new PointsLayer(data.markers, data.frame, data.classes, data.images, data.image_paths, {
      onStatus: (layer) => legend.setStatus(layer.suppressed
        ? 'Zoom in to see markers (' + layer.visible.toLocaleString('en') + ' in view).' : ''),
    });
    overlays['Detections (' + data.markers.n.toLocaleString('en') + ')'] = layers.points;
    for (const layer of Object.values(overlays)) layer.addTo(map);

    L.control.layers(bases, overlays, { collapsed: false, position: 'topright' }).addTo(map);
    L.control.scale({ imperial: false }).addTo(map);
    if (!data.n_points) {
      map.getContainer().appendChild(el('div', 'skyscan-empty',
        data.n_input ? 'No detection can be placed on the map (see notes).' : 'No detections to show.'));
    }

    timings.built = performance.now();
    window.skyscan = { map: map, layers: layers, data: data, legend: legend, timings: timings, ready: false };
    // Ready after the first frame is painted (a task queued from rAF runs after paint).
    requestAnimationFrame(() => setTimeout(() => {
      window.skyscan.readyMs = performance.now();
      window.skyscan.ready = true;
      document.body.setAttribute('data-ready', '1');
    }, 0));
  }

  init();
})();
