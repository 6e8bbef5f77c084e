// satlearn view: the catalogue browser, the map and the model playground, on one Leaflet map.
// Plain ES module; Leaflet (window.L) comes from /static/vendor, built from npm. Every
// request goes to this page's own origin: /stac (STAC API), /tiles (tiles), /api (the rest).

const L = window.L;
const $ = (id) => document.getElementById(id);
// Items per page of the list; ?page_size=N on the page's URL changes it (paging of a
// small catalogue can be tried that way).
const PAGE_SIZE = Number(new URLSearchParams(window.location.search).get("page_size")) || 10;
const COLORMAPS = ["viridis", "magma", "inferno", "plasma", "cividis", "rdylgn", "rdbu",
  "spectral", "greys", "terrain"];
// Class colours of a predicted mask (id -> RGB); 255 is "no data", drawn transparent.
const PALETTE = [[31, 119, 180], [44, 160, 44], [214, 39, 40], [255, 127, 14], [148, 103, 189],
  [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207]];

const state = {
  config: { served: false },
  collections: [],
  page: null,           // the last STAC search answer
  pages: [],            // the URLs of the pages seen, for "Previous"
  bbox: null,           // [west, south, east, north] drawn on the map
  bboxLayer: null,
  footprints: null,     // the listed items' outlines
  items: new Map(),     // id -> STAC item of the pages seen
  current: null,        // {item, assetKey, info, indices}
  layer: null,          // the main tile layer
  compare: null,        // the right-hand tile layer of the swipe
  overlays: new Map(),  // "collection/item/asset" -> Leaflet layer
  prediction: [],       // the playground's image overlays
  rescaleEdited: false,
};

// Whole zooms only: at fractional ones Leaflet leaves hairline gaps between tiles.
const map = L.map("map", { boxZoom: false, attributionControl: false, zoomSnap: 1 })
  .setView([20, 0], 2);
map.createPane("compare").style.zIndex = 250;
map.createPane("prediction").style.zIndex = 350;
map.createPane("footprints").style.zIndex = 380;  // below overlays (400), above tiles
window.satlearnView = { map, state };  // for the browser tests and for the curious

function status(text) { $("status").textContent = text; }

async function getJSON(url, options) {
  const response = await fetch(url, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(body.error || body.description || body.detail || `${url}: ${response.status}`);
  }
  return body;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const child of children) node.append(child);
  return node;
}

// --------------------------------------------------------------------------- assets

function isImage(asset) {
  const type = asset.type || "";
  const href = (asset.href || "").toLowerCase();
  const roles = asset.roles || [];
  if (roles.includes("thumbnail") || roles.includes("overview")) return false;
  return type.includes("image/tiff") || href.endsWith(".tif") || href.endsWith(".tiff");
}

function isOverlay(asset) {
  const type = asset.type || "";
  return (asset.roles || []).includes("overlay") || type.includes("geo+json")
    || type.includes("parquet");
}

function tileBase(item, key) {
  const c = encodeURIComponent(item.collection);
  return `/tiles/${c}/${encodeURIComponent(item.id)}/${encodeURIComponent(key)}`;
}

// The tile (z, x, y) of the highest zoom holding the whole bbox: the item's thumbnail.
function coveringTile(bbox) {
  const [west, south, east, north] = bbox;
  const tx = (lon, z) => Math.floor(((lon + 180) / 360) * 2 ** z);
  const ty = (lat, z) => {
    const r = (Math.max(-85, Math.min(85, lat)) * Math.PI) / 180;
    return Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * 2 ** z);
  };
  for (let z = 18; z > 0; z -= 1) {
    if (tx(west, z) === tx(east, z) && ty(north, z) === ty(south, z)) {
      return [z, tx(west, z), ty(north, z)];
    }
  }
  return [0, 0, 0];
}

// A thumbnail: the covering tile, cropped to the item's bbox by CSS (a box of `size` px).
function thumbnail(item, size) {
  const key = Object.keys(item.assets || {}).find((k) => isImage(item.assets[k]));
  const box = el("span", { className: "thumb" });
  box.style.width = box.style.height = `${size}px`;
  if (!key || !item.bbox) return box;
  const [z, x, y] = coveringTile(item.bbox);
  const [west, south, east, north] = item.bbox;
  // The bbox in the tile's pixels (Web Mercator), to scale and shift the tile image.
  const px = (lon) => (((lon + 180) / 360) * 2 ** z - x) * 256;
  const py = (lat) => {
    const r = (lat * Math.PI) / 180;
    return (((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * 2 ** z - y) * 256;
  };
  const [x0, x1, y0, y1] = [px(west), px(east), py(north), py(south)];
  const scale = size / Math.max(x1 - x0, y1 - y0, 1);
  const img = el("img", { src: `${tileBase(item, key)}/${z}/${x}/${y}.png`, alt: `${item.id}`,
    loading: "lazy" });
  Object.assign(img.style, { width: `${256 * scale}px`, height: `${256 * scale}px`,
    left: `${-x0 * scale}px`, top: `${-y0 * scale}px` });
  box.append(img);
  return box;
}

function shortType(type) {
  if (!type) return "";
  if (type.includes("cloud-optimized")) return "COG";
  if (type.includes("image/tiff")) return "GeoTIFF";
  if (type.includes("geo+json")) return "GeoJSON";
  if (type.includes("parquet")) return "GeoParquet";
  return type.split(";")[0];
}

// --------------------------------------------------------------------------- catalogue

async function loadCollections() {
  const answer = await getJSON("/stac/collections");
  state.collections = answer.collections || [];
  const select = $("collection");
  select.replaceChildren(el("option", { value: "", textContent: "(all collections)" }));
  for (const c of state.collections) {
    select.append(el("option", { value: c.id, textContent: `${c.title || c.id}` }));
  }
}

function searchUrl() {
  const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if ($("collection").value) params.set("collections", $("collection").value);
  if (state.bbox) params.set("bbox", state.bbox.map((v) => v.toFixed(6)).join(","));
  const from = $("date-from").value;
  const to = $("date-to").value;
  if (from || to) {
    params.set("datetime", `${from ? `${from}T00:00:00Z` : ".."}/${to ? `${to}T23:59:59Z` : ".."}`);
  }
  return `/stac/search?${params}`;
}

async function showPage(url, { back = false } = {}) {
  status("searching...");
  const page = await getJSON(url);
  if (!back) state.pages.push(url);
  state.page = page;
  const list = $("items");
  list.replaceChildren();
  for (const item of page.features || []) {
    state.items.set(`${item.collection}/${item.id}`, item);
    const when = item.properties.datetime || item.properties.start_datetime || "";
    const li = el("li", { className: "item" }, thumbnail(item, 48),
      el("div", {}, el("strong", { textContent: item.id }), el("br"),
        el("span", { className: "hint", textContent: `${item.collection} · ${when.slice(0, 10)}` })));
    li.dataset.key = `${item.collection}/${item.id}`;
    li.addEventListener("click", () => selectItem(item, li));
    list.append(li);
  }
  drawFootprints(page.features || []);
  const next = (page.links || []).find((l) => l.rel === "next");
  $("next-page").disabled = !next;
  $("next-page").dataset.href = next ? next.href : "";
  $("prev-page").disabled = state.pages.length < 2;
  const matched = page.numberMatched ?? page.context?.matched;
  $("page-info").textContent = `page ${state.pages.length}${matched !== undefined ? ` of ${Math.max(1, Math.ceil(matched / PAGE_SIZE))}` : ""}`;
  status(`${(page.features || []).length} item(s) shown${matched !== undefined ? ` of ${matched}` : ""}`);
  fillCompare();
}

// The listed items' outlines on the map; a click on one selects it.
function drawFootprints(items) {
  if (state.footprints) state.footprints.remove();
  state.footprints = L.geoJSON(
    { type: "FeatureCollection", features: items.filter((i) => i.geometry) },
    { pane: "footprints", style: { color: "#1d6fb8", weight: 1, fill: false, className: "footprint" },
      onEachFeature: (feature, layer) => layer.on("click", () => {
        const li = document.querySelector(`#items li[data-key="${feature.collection}/${feature.id}"]`);
        selectItem(feature, li);
      }) },
  ).addTo(map);
  const bounds = state.footprints.getBounds();
  if (bounds.isValid() && !state.current) map.fitBounds(bounds, { maxZoom: 14 });
}

function selectItem(item, li) {
  for (const node of document.querySelectorAll("#items li")) node.classList.remove("selected");
  if (li) li.classList.add("selected");
  $("item-panel").hidden = false;
  $("item-title").textContent = `${item.collection} / ${item.id}`;
  $("item-thumb").replaceChildren(thumbnail(item, 160));
  const body = $("assets").querySelector("tbody");
  body.replaceChildren();
  for (const [key, asset] of Object.entries(item.assets || {})) {
    const action = el("td");
    if (isImage(asset)) {
      const show = el("button", { textContent: "Show", className: "show-asset" });
      show.addEventListener("click", () => showAsset(item, key));
      action.append(show);
    } else if (isOverlay(asset)) {
      const add = el("button", { textContent: "Overlay", className: "overlay-asset" });
      add.addEventListener("click", () => addOverlay(item, key));
      action.append(add);
    }
    body.append(el("tr", { className: "asset" },
      el("td", { textContent: asset.title ? `${key} (${asset.title})` : key }),
      el("td", { textContent: shortType(asset.type), title: asset.type || "" }),
      el("td", { textContent: (asset.roles || []).join(", ") }), action));
  }
  const meta = $("metadata").querySelector("tbody");
  meta.replaceChildren();
  for (const [key, value] of Object.entries(item.properties || {})) {
    const text = typeof value === "object" ? JSON.stringify(value) : String(value);
    meta.append(el("tr", {}, el("td", { textContent: key }), el("td", { textContent: text })));
  }
  if (item.bbox) {
    const [w, s, e, n] = item.bbox;
    map.fitBounds([[s, w], [n, e]], { maxZoom: 16 });
  }
}

// Shift-drag draws the search box (Leaflet's own shift-drag box zoom is off). The
// listeners are on the container in the capture phase, so the map never starts a pan.
function bboxDrawing() {
  const container = map.getContainer();
  let start = null;
  const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));
  container.addEventListener("mousedown", (event) => {
    if (!event.shiftKey || event.button !== 0) return;
    event.stopPropagation();
    event.preventDefault();
    start = map.mouseEventToLatLng(event);
    if (state.bboxLayer) state.bboxLayer.remove();
    state.bboxLayer = L.rectangle([start, start], { color: "#ff7800", weight: 2, fill: false,
      interactive: false }).addTo(map);
  }, true);
  container.addEventListener("mousemove", (event) => {
    if (!start) return;
    event.stopPropagation();
    state.bboxLayer.setBounds([start, map.mouseEventToLatLng(event)]);
  }, true);
  window.addEventListener("mouseup", (event) => {
    if (!start) return;
    const bounds = L.latLngBounds(start, map.mouseEventToLatLng(event));
    start = null;
    state.bbox = [clamp(bounds.getWest(), -180, 180), clamp(bounds.getSouth(), -90, 90),
      clamp(bounds.getEast(), -180, 180), clamp(bounds.getNorth(), -90, 90)];
    $("bbox-text").textContent = `box: ${state.bbox.map((v) => v.toFixed(4)).join(", ")}`;
    newSearch();
  }, true);
}

function newSearch() {
  state.pages = [];
  showPage(searchUrl()).catch(fail);
}

// --------------------------------------------------------------------------- the map

function bandNames(info) {
  return (info.bands || []).map((b, i) => (typeof b === "string" ? b : b.name || `b${i + 1}`));
}

// Per band default range: the asset's statistics (p2..p98 when the server measured them).
function bandRange(info, i) {
  const band = (info.bands || [])[i];
  if (band && Array.isArray(band.rescale)) return band.rescale;
  const stats = Array.isArray(info.stats) ? info.stats[i]
    : (info.stats || {})[bandNames(info)[i]] || (info.bands || [])[i]?.statistics;
  if (!stats) return [0, 1];
  const lo = stats.p2 ?? stats.percentile_2 ?? stats.min ?? stats.minimum;
  const hi = stats.p98 ?? stats.percentile_98 ?? stats.max ?? stats.maximum;
  return [lo, hi];
}

function fillSelect(select, values, chosen) {
  select.replaceChildren(...values.map((v) => el("option", { value: v, textContent: v })));
  if (chosen !== undefined) select.value = chosen;
}

async function showAsset(item, key) {
  status(`loading ${item.id}/${key}...`);
  const info = await getJSON(`${tileBase(item, key)}/info.json`);
  const names = bandNames(info);
  const indices = names.length
    ? (await getJSON(`/api/indices?bands=${encodeURIComponent(names.join(","))}`)).indices : [];
  state.current = { item, assetKey: key, info, indices };
  state.rescaleEdited = false;
  const pick = (want, fallback) => (names.includes(want) ? want : names[Math.min(fallback, names.length - 1)]);
  fillSelect($("band-r"), names, pick("red", 0));
  fillSelect($("band-g"), names, pick("green", 1));
  fillSelect($("band-b"), names, pick("blue", 2));
  fillSelect($("index"), indices.map((x) => x.name), indices.find((x) => x.name === "NDVI") ? "NDVI" : undefined);
  $("mode").value = "bands";
  $("colormap").value = "";
  $("layer-controls").hidden = false;
  $("layer-name").textContent = `${item.collection} / ${item.id} / ${key}`;
  modeChanged();
  switchView("map");
  render();
}

function tileParams() {
  const { info, indices } = state.current;
  const names = bandNames(info);
  const params = new URLSearchParams();
  const min = $("rescale-min").value;
  const max = $("rescale-max").value;
  if ($("mode").value === "index") {
    const chosen = indices.find((x) => x.name === $("index").value);
    if (chosen) params.set("expression", chosen.expression);
    params.set("rescale", `${min || -1},${max || 1}`);
  } else {
    const bands = [$("band-r").value, $("band-g").value, $("band-b").value];
    params.set("bands", bands.join(","));
    if (state.rescaleEdited && min !== "" && max !== "") {
      params.set("rescale", `${min},${max}`);
    } else {
      params.set("rescale", bands.map((b) => bandRange(info, names.indexOf(b)).join(",")).join(";"));
    }
  }
  if ($("colormap").value && $("mode").value === "index") params.set("colormap", $("colormap").value);
  return params;
}

function tileOptions(info, extra = {}) {
  // info.json's zooms are the ones the server renders: past maxzoom Leaflet magnifies.
  const options = { opacity: Number($("opacity").value), maxNativeZoom: info.maxzoom,
    maxZoom: 24, minZoom: info.minzoom ?? 0, ...extra };
  if (info.bounds) {
    const [w, s, e, n] = info.bounds;
    // Only tiles over the asset are asked for: one outside it is a 404, a console error.
    options.bounds = L.latLngBounds([[s, w], [n, e]]).pad(-1e-6);
  }
  return options;
}

function render() {
  if (!state.current) return;
  const { item, assetKey, info } = state.current;
  const params = tileParams();
  const url = `${tileBase(item, assetKey)}/{z}/{x}/{y}.png?${params}`;
  if (state.layer) state.layer.remove();
  state.layer = L.tileLayer(url, tileOptions(info)).addTo(map);
  state.layer.on("tileerror", (event) => status(`a tile failed: ${event.tile.src}`));
  state.layer.getContainer().classList.add("main-layer");
  updateLegend();
  renderCompare();
  if (item.bbox) {
    const [w, s, e, n] = item.bbox;
    map.fitBounds([[s, w], [n, e]], { maxZoom: 16 });
  }
  status(`showing ${item.id}/${assetKey}`);
}

function modeChanged() {
  const index = $("mode").value === "index";
  $("bands-controls").hidden = index;
  $("index-controls").hidden = !index;
  if (!state.current) return;
  if (index) {
    const chosen = state.current.indices.find((x) => x.name === $("index").value);
    $("index-formula").textContent = chosen ? `${chosen.long_name}: ${chosen.expression}` : "no index for these bands";
    $("rescale-min").value = -1;
    $("rescale-max").value = 1;
    if (!$("colormap").value) $("colormap").value = "rdylgn";
  } else {
    const names = bandNames(state.current.info);
    const [lo, hi] = bandRange(state.current.info, Math.max(0, names.indexOf($("band-r").value)));
    $("rescale-min").value = lo;
    $("rescale-max").value = hi;
  }
}

function updateLegend() {
  const name = $("colormap").value;
  const shown = Boolean(name) && $("mode").value === "index";
  $("legend").hidden = !shown;
  if (!shown) return;
  $("legend-img").src = `/tiles/colormaps/${encodeURIComponent(name)}.png`;
  $("legend-min").textContent = $("rescale-min").value || "-1";
  $("legend-max").textContent = $("rescale-max").value || "1";
}

// ---- the swipe: a second layer on its own pane, clipped to the right of the slider.

function fillCompare() {
  const select = $("compare");
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "", textContent: "(off)" }));
  for (const [key, item] of state.items) {
    const asset = Object.keys(item.assets || {}).find((k) => isImage(item.assets[k]));
    if (!asset) continue;
    const when = (item.properties.datetime || item.properties.start_datetime || "").slice(0, 10);
    select.append(el("option", { value: `${key}/${asset}`, textContent: `${item.id} ${when}` }));
  }
  select.value = chosen;
}

function renderCompare() {
  if (state.compare) state.compare.remove();
  state.compare = null;
  const value = $("compare").value;
  $("swipe-line").hidden = !value || !state.current;
  if (!value || !state.current) return;
  const parts = value.split("/");
  const assetKey = parts.pop();
  const item = state.items.get(parts.join("/"));
  const url = `${tileBase(item, assetKey)}/{z}/{x}/{y}.png?${tileParams()}`;
  // Opaque: right of the line the other date replaces the main layer, whatever its opacity.
  const options = tileOptions(state.current.info, { pane: "compare", opacity: 1 });
  state.compare = L.tileLayer(url, options).addTo(map);
  state.compare.getContainer().classList.add("compare-layer");
  map.getPane("compare").style.zIndex = 250;  // above the main layer's tile pane (200)
  clipCompare();
}

function clipCompare() {
  const line = $("swipe-line");
  if (!state.compare) return;
  const size = map.getSize();
  const x = size.x * Number($("swipe").value);
  const nw = map.containerPointToLayerPoint([0, 0]);
  const se = map.containerPointToLayerPoint(size);
  const clipX = nw.x + x;
  state.compare.getContainer().style.clip = `rect(${nw.y}px, ${se.x}px, ${se.y}px, ${clipX}px)`;
  line.style.left = `${x}px`;
}

// ---- overlays (GeoJSON / GeoParquet, served as GeoJSON by /api/overlays).

function popupHtml(properties) {
  const table = el("table", { className: "popup-table" });
  for (const [key, value] of Object.entries(properties || {})) {
    table.append(el("tr", {}, el("td", { textContent: key }), el("td", { textContent: String(value) })));
  }
  return table;
}

async function addOverlay(item, key) {
  const id = `${item.collection}/${item.id}/${key}`;
  if (state.overlays.has(id)) return;
  status(`loading overlay ${key}...`);
  const doc = await getJSON(`/api/overlays/${encodeURIComponent(item.collection)}/${encodeURIComponent(item.id)}/${encodeURIComponent(key)}.geojson`);
  const layer = L.geoJSON(doc, {
    style: { color: "#ff00aa", weight: 2, fillOpacity: 0.15, className: "overlay-feature" },
    pointToLayer: (_, latlng) => L.circleMarker(latlng,
      { radius: 6, color: "#ff00aa", className: "overlay-feature" }),
    onEachFeature: (feature, sub) => sub.bindPopup(popupHtml(feature.properties)),
  }).addTo(map);
  state.overlays.set(id, layer);
  const box = el("input", { type: "checkbox", checked: true });
  box.addEventListener("change", () => (box.checked ? layer.addTo(map) : layer.remove()));
  $("overlays").append(el("li", { className: "overlay" },
    el("label", {}, box, ` ${item.id} / ${key} (${doc.features.length} features${doc.truncated ? ", truncated" : ""})`)));
  const bounds = layer.getBounds();
  if (bounds.isValid()) map.fitBounds(bounds, { maxZoom: 16 });
  status(`${doc.features.length} feature(s) of ${key}`);
}

// --------------------------------------------------------------------------- playground

let models = [];

async function loadModels() {
  models = (await getJSON("/api/models")).models || [];
  fillSelect($("model"), models.map((m) => m.name));
  modelChanged();
}

function modelChanged() {
  const model = models.find((m) => m.name === $("model").value);
  $("model-info").textContent = model
    ? `${model.task}; reads ${model.bands.join(", ")}` : "no models: start with --models DIR";
  $("classes").replaceChildren(...(model ? model.classes : []).map((c) => el("li", {},
    el("span", { style: `background: rgb(${PALETTE[c.id % PALETTE.length].join(",")})` }),
    `${c.id}: ${c.name}`)));
}

// A PNG of class ids (255: no data) coloured by PALETTE into a data URL.
async function colourMask(blob) {
  const bitmap = await createImageBitmap(blob);
  const canvas = el("canvas", { width: bitmap.width, height: bitmap.height });
  const context = canvas.getContext("2d");
  context.drawImage(bitmap, 0, 0);
  const pixels = context.getImageData(0, 0, bitmap.width, bitmap.height);
  const counts = new Map();
  for (let i = 0; i < pixels.data.length; i += 4) {
    const id = pixels.data[i];
    counts.set(id, (counts.get(id) || 0) + 1);
    const [r, g, b] = PALETTE[id % PALETTE.length];
    pixels.data.set(id === 255 ? [0, 0, 0, 0] : [r, g, b, 170], i);
  }
  context.putImageData(pixels, 0, 0);
  return { url: canvas.toDataURL("image/png"), counts };
}

async function predictFile(file) {
  const model = models.find((m) => m.name === $("model").value);
  if (!model || !model.segment_url) {
    $("prediction").textContent = "pick a segmentation model first";
    return;
  }
  $("prediction").textContent = `running ${model.name} on ${file.name}...`;
  const form = () => { const f = new FormData(); f.append("file", file); return f; };
  const [info, answer] = await Promise.all([
    getJSON("/api/image-info", { method: "POST", body: form() }),
    fetch(model.segment_url, { method: "POST", body: form(), headers: { Accept: "image/png" } }),
  ]);
  if (!answer.ok) {
    const body = await answer.json().catch(() => ({}));
    throw new Error(body.error || `${model.segment_url}: ${answer.status}`);
  }
  const mask = await colourMask(await answer.blob());
  for (const layer of state.prediction) layer.remove();
  // An image with no georeference is laid over the map's current view.
  const bounds = info.bounds ? L.latLngBounds(info.bounds) : map.getBounds().pad(-0.2);
  state.prediction = [
    L.imageOverlay(info.preview, bounds, { pane: "prediction" }).addTo(map),
    L.imageOverlay(mask.url, bounds, { pane: "prediction", className: "prediction-mask" }).addTo(map),
  ];
  map.fitBounds(bounds);
  const summary = [...mask.counts].filter(([id]) => id !== 255)
    .map(([id, n]) => `${model.classes.find((c) => c.id === id)?.name ?? id}: ${n} px`).join(", ");
  $("prediction").textContent = `prediction of ${model.name}: ${summary}`;
  $("prediction").dataset.done = "file";
  switchView("playground");
}

function runOnItem() {
  const model = $("model").value;
  if (!state.current || !model) {
    $("prediction").textContent = "show an image on the map first (Catalogue, Show)";
    return;
  }
  const { item, assetKey, info } = state.current;
  const params = new URLSearchParams({ model });
  for (const layer of state.prediction) layer.remove();
  const url = `${tileBase(item, assetKey)}/{z}/{x}/{y}.png?${params}`;
  const layer = L.tileLayer(url, tileOptions(info, { pane: "prediction", opacity: 0.7 })).addTo(map);
  layer.getContainer().classList.add("model-layer");
  layer.on("load", () => {
    $("prediction").textContent = `tiles of ${model} over ${item.id}/${assetKey}`;
    $("prediction").dataset.done = "tiles";
  });
  state.prediction = [layer];
}

// --------------------------------------------------------------------------- wiring

function switchView(name) {
  for (const button of document.querySelectorAll("#tabs button")) {
    button.classList.toggle("active", button.dataset.view === name);
  }
  for (const view of document.querySelectorAll(".view")) {
    view.classList.toggle("active", view.id === `view-${name}`);
  }
}

function fail(error) {
  status(`error: ${error.message}`);
  console.warn(error);  // a warning, not an error: the tests count console errors
}

function wire() {
  for (const button of document.querySelectorAll("#tabs button")) {
    button.addEventListener("click", () => switchView(button.dataset.view));
  }
  $("collection").addEventListener("change", newSearch);
  $("search").addEventListener("click", newSearch);
  $("clear-search").addEventListener("click", () => {
    state.bbox = null;
    if (state.bboxLayer) state.bboxLayer.remove();
    $("bbox-text").textContent = "";
    $("date-from").value = "";
    $("date-to").value = "";
    newSearch();
  });
  $("next-page").addEventListener("click", () => showPage($("next-page").dataset.href).catch(fail));
  $("prev-page").addEventListener("click", () => {
    state.pages.pop();
    showPage(state.pages[state.pages.length - 1], { back: true }).catch(fail);
  });
  $("mode").addEventListener("change", () => { state.rescaleEdited = false; modeChanged(); render(); });
  $("index").addEventListener("change", () => { modeChanged(); render(); });
  for (const id of ["band-r", "band-g", "band-b"]) $(id).addEventListener("change", render);
  for (const id of ["rescale-min", "rescale-max"]) {
    $(id).addEventListener("input", () => { state.rescaleEdited = true; });
  }
  $("colormap").addEventListener("change", render);
  $("apply").addEventListener("click", render);
  $("opacity").addEventListener("input", () => {
    if (state.layer) state.layer.setOpacity(Number($("opacity").value));
  });
  $("compare").addEventListener("change", renderCompare);
  $("swipe").addEventListener("input", clipCompare);
  map.on("move zoom resize", clipCompare);
  $("model").addEventListener("change", modelChanged);
  $("run-item").addEventListener("click", runOnItem);
  $("file").addEventListener("change", () => {
    if ($("file").files.length) predictFile($("file").files[0]).catch(fail);
  });
  const drop = $("drop");
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    if (event.dataTransfer.files.length) predictFile(event.dataTransfer.files[0]).catch(fail);
  });
  for (const name of COLORMAPS) $("colormap").append(el("option", { value: name, textContent: name }));
  // The tile server's own list, when it answers (a fixed short list until then).
  getJSON("/tiles/colormaps").then((answer) => {
    const names = answer.colormaps || [];
    if (!names.length) return;
    const chosen = $("colormap").value;
    $("colormap").replaceChildren(el("option", { value: "", textContent: "(none)" }),
      ...names.map((name) => el("option", { value: name, textContent: name })));
    $("colormap").value = chosen;
  }).catch(() => {});
  bboxDrawing();
}

async function start() {
  wire();
  state.config = await getJSON("/api/config");
  $("title").textContent = `satlearn view · ${state.config.title}`;
  document.title = `satlearn view: ${state.config.title}`;
  await loadCollections();
  await Promise.all([showPage(searchUrl()), loadModels()]);
  document.body.dataset.ready = "true";
}

start().catch(fail);
