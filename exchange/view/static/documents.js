// A message as a person reads it: the paper form its family is modelled on, badges for the checks, raw XML.
// Layouts: a transit declaration as the transit accompanying document (TAD), an ePhyto as the IPPC model
// phytosanitary certificate (ISPM 12), an e-CO as a certificate of origin; any other message as a data sheet.
"use strict";

function kids(el, name) { return el ? [...el.children].filter((c) => c.localName === name) : []; }
function at(el, path) {  // first element down a localName path, e.g. "Consignment/HouseConsignment"
  let found = el;
  for (const name of path.split("/")) { found = kids(found, name)[0]; if (!found) return null; }
  return found;
}
function all(el, path) {
  const names = path.split("/");
  let level = [el];
  for (const name of names) level = level.flatMap((x) => kids(x, name));
  return level;
}
function txt(el, path) { const found = path ? at(el, path) : el; const t = found?.textContent?.trim(); return t && t !== "NULL" ? t : ""; }
function box(label, value, span = "") {
  return `<div class="box ${span}"><span class="n">${esc(label)}</span><span class="v">${esc(value) || "—"}</span></div>`;
}
function party(el) {
  if (!el) return "";
  const address = at(el, "Address");
  const lines = [txt(el, "name") || txt(el, "Name"), txt(el, "identificationNumber") || txt(el, "ID")];
  if (address) lines.push([txt(address, "streetAndNumber"), txt(address, "postcode"), txt(address, "city"), txt(address, "country")].filter(Boolean).join(", "));
  return lines.filter(Boolean).join("\n");
}

function transitDocument(root) {
  const code = root.localName;
  const op = at(root, "TransitOperation");
  const consignment = at(root, "Consignment");
  const items = all(root, "Consignment/HouseConsignment/ConsignmentItem");
  const transit = all(root, "CustomsOfficeOfTransitDeclared").map((o) => txt(o, "referenceNumber")).join(", ");
  const equipment = all(consignment, "TransportEquipment").map((e) => `${txt(e, "containerIdentificationNumber")} seals: ${all(e, "Seal").map((s) => txt(s, "identifier")).join(", ")}`).join("\n");
  const guarantee = all(root, "Guarantee").map((g) => `type ${txt(g, "guaranteeType")} ` +
    all(g, "GuaranteeReference").map((r) => `${txt(r, "GRN")} ${txt(r, "amountToBeCovered")} ${txt(r, "currency")}`).join(", ")).join("\n");
  const rows = items.map((i) => `<tr><td>${esc(txt(i, "goodsItemNumber"))}</td><td>${esc(txt(i, "Commodity/descriptionOfGoods"))}</td>
    <td>${esc(txt(i, "Commodity/CommodityCode/harmonizedSystemSubHeadingCode"))}</td>
    <td>${esc(all(i, "Packaging").map((p) => `${txt(p, "numberOfPackages")} ${txt(p, "typeOfPackages")} ${txt(p, "shippingMarks")}`).join("; "))}</td>
    <td class="num">${esc(txt(i, "Commodity/GoodsMeasure/grossMass"))}</td><td class="num">${esc(txt(i, "Commodity/GoodsMeasure/netMass"))}</td></tr>`).join("");
  return `<div class="paper tad"><div class="head"><h3>TRANSIT ACCOMPANYING DOCUMENT</h3>
      <span>${esc(code)} · ${esc(txt(op, "declarationType"))}</span></div>
    <div class="grid">
      ${box("MRN", txt(op, "MRN") || "(allocated on acceptance)", "span2")}${box("LRN", txt(op, "LRN"))}${box("Declaration type", txt(op, "declarationType") + " " + txt(op, "additionalDeclarationType"))}
      ${box("Holder of the transit procedure", party(at(root, "HolderOfTheTransitProcedure")), "span2")}
      ${box("Consignee", party(at(consignment, "Consignee")) || party(at(consignment, "HouseConsignment/Consignee")), "span2")}
      ${box("Office of departure", txt(root, "CustomsOfficeOfDeparture/referenceNumber"))}${box("Offices of transit", transit, "span2")}
      ${box("Office of destination", txt(root, "CustomsOfficeOfDestinationDeclared/referenceNumber"))}
      ${box("Country of dispatch", txt(consignment, "countryOfDispatch"))}${box("Country of destination", txt(consignment, "countryOfDestination"))}
      ${box("Countries of routing", all(consignment, "CountryOfRoutingOfConsignment").map((c) => txt(c, "country")).join(" → "))}
      ${box("Total gross mass (kg)", txt(consignment, "grossMass"))}
      ${box("Containers and seals", equipment, "span2")}${box("Guarantee", guarantee, "span2")}
      ${box("Release / limit date", txt(op, "releaseDate") || txt(root, "CustomsOfficeOfDeparture/releaseDate") || txt(op, "limitDate"))}
      ${box("Prepared", txt(root, "preparationDateAndTime"))}${box("Sender", txt(root, "messageSender"))}${box("Recipient", txt(root, "messageRecipient"))}
    </div>
    <table><tr><th>item</th><th>description of goods</th><th>HS</th><th>packages</th><th class="num">gross kg</th><th class="num">net kg</th></tr>${rows}</table>
    <div class="foot">Laid out after the NCTS transit accompanying document (TAD); data as ${esc(code)} carries it.</div></div>`;
}

function phytoCertificate(root) {
  const doc = at(root, "SPSExchangedDocument"), cons = at(root, "SPSConsignment");
  const items = all(cons, "IncludedSPSConsignmentItem/IncludedSPSTradeLineItem");
  const auth = at(doc, "SignatorySPSAuthentication");
  const notes = all(doc, "IncludedSPSNote");
  const note = (subject) => notes.filter((n) => txt(n, "Subject") === subject).map((n) => txt(n, "Content")).join("\n");
  const goods = items.map((i) => `${txt(i, "SequenceNumeric")}. ${txt(i, "Description")} — ${txt(i, "ScientificName")} (${txt(i, "CommonName")}), ` +
    `${all(i, "PhysicalSPSPackage").map((p) => `${txt(p, "ItemQuantity")} ${txt(p, "TypeCode")}`).join(", ")}, net ${txt(i, "NetWeightMeasure")} kg, origin ${txt(i, "OriginSPSCountry/ID")}`).join("\n");
  const reexport = txt(doc, "TypeCode") === "657";
  return `<div class="paper ippc"><div class="head"><h3>${reexport ? "PHYTOSANITARY CERTIFICATE FOR RE-EXPORT" : "PHYTOSANITARY CERTIFICATE"}</h3>
      <span>No. ${esc(txt(doc, "ID"))} · status ${esc(txt(doc, "StatusCode"))}</span></div>
    <div class="grid">
      ${box("Plant protection organization of", txt(cons, "ExportSPSCountry/ID") + " — " + txt(doc, "IssuerSPSParty/Name"), "span2")}
      ${box("TO: Plant protection organization(s) of", txt(cons, "ImportSPSCountry/ID"), "span2")}
      <div class="box span4"><span class="n">I. Description of consignment</span></div>
      ${box("Name and address of exporter", [txt(cons, "ConsignorSPSParty/Name"), txt(cons, "ConsignorSPSParty/SpecifiedSPSAddress/LineOne")].join("\n"), "span2")}
      ${box("Declared name and address of consignee", [txt(cons, "ConsigneeSPSParty/Name"), txt(cons, "ConsigneeSPSParty/SpecifiedSPSAddress/LineOne")].join("\n"), "span2")}
      ${box("Name of produce, quantity declared, botanical name, packages", goods, "span4")}
      ${box("Place of origin", [...new Set(items.map((i) => txt(i, "OriginSPSCountry/ID")))].join(", "))}
      ${box("Declared means of conveyance", "mode " + txt(cons, "MainCarriageSPSTransportMovement/ModeCode"))}
      ${box("Declared point of entry", txt(cons, "UnloadingBaseportSPSLocation/Name"))}
      ${box("Countries of transit", all(cons, "TransitSPSCountry").map((c) => txt(c, "ID")).join(", "))}
      ${box("Certification", all(auth, "IncludedSPSClause").map((c) => txt(c, "Content")).join("\n") || "This is to certify that the plants, plant products or other regulated articles described herein have been inspected and/or tested according to appropriate official procedures…", "span4")}
      ${box("II. Additional declaration", note("ADEDL") || note("AD"), "span4")}
      ${box("III. Disinfestation and/or disinfection treatment", note("TREAT") || all(cons, "IncludedSPSConsignmentItem/IncludedSPSTradeLineItem/AppliedSPSProcess").map((p) => txt(p)).join(" "), "span4")}
      ${box("Place of issue", txt(auth, "IssueSPSLocation/Name"))}${box("Date", txt(doc, "IssueDateTime/DateTimeString") || txt(auth, "ActualDateTime/DateTime"))}
      ${box("Name of authorized officer", txt(auth, "ProviderSPSParty/SpecifiedSPSPerson/Name"), "span2")}
    </div><div class="foot">Laid out after the model phytosanitary certificate of ISPM 12 (IPPC); data from the UN/CEFACT SPS certificate.</div></div>`;
}

function originCertificate(root) {
  const c = at(root, "Certificate");
  if (!c) return dataSheet(root);
  const party2 = (el) => el ? [txt(el, "Name"), ...all(el, "Address/Line").map((l) => txt(l)), txt(el, "Address/City"), txt(el, "Address/CountryCode")].filter(Boolean).join("\n") : "";
  const items = all(c, "GoodsItem").map((g) => `<tr><td>${esc(txt(g, "SequenceNumber"))}</td><td>${esc(txt(g, "MarksAndNumbers"))}</td>
    <td>${esc(txt(g, "PackageCount"))} ${esc(txt(g, "PackageTypeCode"))}; ${esc(txt(g, "Description"))} (HS ${esc(txt(g, "HSCode"))})</td>
    <td>${esc(txt(g, "OriginCriterion"))} ${esc(txt(g, "OriginCountry"))}</td><td class="num">${esc(txt(g, "GrossWeight"))}</td><td>${esc(txt(g, "InvoiceNumber"))}</td></tr>`).join("");
  return `<div class="paper eco"><div class="head"><h3>CERTIFICATE OF ORIGIN</h3>
      <span>No. ${esc(txt(c, "CertificateNumber"))} · form ${esc(txt(c, "FormCode"))} · ${esc(txt(c, "Kind"))}</span></div>
    <div class="grid">
      ${box("1. Exporter", party2(at(c, "Exporter")), "span2")}${box("Issuing body", party2(at(c, "IssuingAuthority")), "span2")}
      ${box("2. Consignee", party2(at(c, "Consignee")), "span2")}${box("Trade agreement", txt(c, "TradeAgreement/Name") || "non-preferential", "span2")}
      ${box("3. Means of transport and route", [txt(c, "Transport/RouteText"), txt(c, "Transport/LoadingLocation") + " → " + txt(c, "Transport/DischargeLocation")].join("\n"), "span2")}
      ${box("Country of origin → destination", txt(c, "ExportCountry") + " → " + txt(c, "ImportCountry"))}${box("Valid until", txt(c, "ValidUntil"))}
    </div>
    <table><tr><th>5. item</th><th>6. marks</th><th>7. packages, description of goods</th><th>8. origin criterion</th><th class="num">9. gross kg</th><th>10. invoice</th></tr>${items}</table>
    <div class="grid">
      ${box("11. Certification", [txt(c, "Certification/Statement"), `${txt(c, "Certification/Place")} ${txt(c, "Certification/Date")} — ${txt(c, "Certification/OfficerName")} (stamp ${txt(c, "Certification/StampID")})`].join("\n"), "span2")}
      ${box("12. Declaration by the exporter", [txt(c, "ExporterDeclaration/Statement"), `${txt(c, "ExporterDeclaration/Place")} ${txt(c, "ExporterDeclaration/Date")} — ${txt(c, "ExporterDeclaration/SignatoryName")}`].join("\n"), "span2")}
    </div><div class="foot">Laid out after the model certificate of origin of the Revised Kyoto Convention (Specific Annex K); data from the e-CO.</div></div>`;
}

function dataSheet(root) {
  const rows = [];
  const walk = (el, path) => {
    for (const child of el.children) {
      if (child.localName === "Signature") continue;
      const here = path ? `${path} / ${child.localName}` : child.localName;
      if (child.children.length) walk(child, here); else rows.push(`<tr><td>${esc(here)}</td><td>${esc(child.textContent)}</td></tr>`);
    }
  };
  walk(root, "");
  return `<div class="paper sheet"><div class="head"><h3>${esc(root.localName)}</h3><span>message data</span></div>
    <table>${rows.join("")}</table></div>`;
}

const DECLARATIONS = ["CC015C", "CC029C", "CD050C", "CD001C"];

async function openDocument(message) {
  const name = message.file.replace(/^messages\//, "");
  const dialog = document.getElementById("document");
  document.getElementById("doc-title").textContent = `${message.type} ${message.name} · ${message.from} → ${message.to} · ${when(message.at)}`;
  document.getElementById("doc-badges").innerHTML = "";
  document.getElementById("doc-body").innerHTML = "<p>reading…</p>";
  document.getElementById("doc-body").hidden = false;
  document.getElementById("doc-xml").hidden = true;
  document.getElementById("doc-raw").textContent = "raw XML";
  if (!dialog.open) dialog.showModal();
  const answer = await fetch(`/api/documents/${encodeURIComponent(name)}`).then((r) => r.json());
  if (answer.error) { document.getElementById("doc-body").innerHTML = `<p class="empty">${esc(answer.message)}</p>`; return; }
  const badge = (b) => `<span class="badge ${esc(b.state)}" title="${esc(b.detail)}">${esc(b.text)}</span>`;
  document.getElementById("doc-badges").innerHTML = badge(answer.signature) + badge(answer.validation);
  const root = new DOMParser().parseFromString(answer.xml, "application/xml").documentElement;
  let body;
  if (answer.family === "cats" && DECLARATIONS.includes(root.localName)) body = transitDocument(root);
  else if (answer.family === "ephyto" && root.localName === "SPSCertificate") body = phytoCertificate(root);
  else if (answer.family === "eco" && root.localName === "EcoCertificate") body = originCertificate(root);
  else body = dataSheet(root);
  document.getElementById("doc-body").innerHTML = body +
    `<p class="source">${esc(answer.signature.detail)}<br>${esc(answer.validation.detail)}</p>`;
  document.getElementById("doc-xml").textContent = answer.xml;
  dialog.dataset.family = answer.family;
}
