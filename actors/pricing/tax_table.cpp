#include "actors/pricing/tax_table.hpp"

#include <array>
#include <string>

namespace eventstripe::actors::pricing {
namespace {

constexpr basis_points percent(std::int32_t whole, std::int32_t hundredths = 0) {
  return basis_points{whole * 100 + hundredths};
}

// EC below: European Commission, DG TAXUD, "VAT rates applied in the Member States of the
// European Union" (taxation-customs.ec.europa.eu/taxation/vat/vat-directive/vat-rates_en).
// Rates in force on tax_table_as_of; changes during 2025 and on 1 January 2026 are cited from the
// national law or tax authority that made them.
constexpr std::array<tax_country, 33> table{{
    // --- EU-27 ----------------------------------------------------------------------------
    {"AT", "Austria", "USt", percent(20), percent(13), true,
     "EC VAT rates document; UStG 1994 § 10 Abs. 3 (bmf.gv.at)",
     "13 % for admission to theatres, concerts, museums and other cultural events"},
    {"BE", "Belgium", "TVA/BTW", percent(21), percent(6), true,
     "EC VAT rates document; Royal Decree no. 20, table A, heading XXIX (finances.belgium.be)",
     "6 % for admission to cultural, sports and entertainment events"},
    {"BG", "Bulgaria", "DDS", percent(20), std::nullopt, true,
     "EC VAT rates document; VAT Act (ZDDS) art. 66 (nra.bg)",
     "the 9 % rate covers accommodation only; admission is standard-rated"},
    {"HR", "Croatia", "PDV", percent(25), percent(5), true,
     "EC VAT rates document; Zakon o PDV-u art. 38 as amended 1 April 2022 (porezna-uprava.gov.hr)",
     "5 % for tickets to concerts, cultural and sports events"},
    {"CY", "Cyprus", "FPA", percent(19), percent(5), true,
     "EC VAT rates document; VAT Law 95(I)/2000 Annex V and Tax Department circular of October 2025 (mof.gov.cy)",
     "5 % for admission to concerts, theatres, museums, cinemas when no catering is included"},
    {"CZ", "Czechia", "DPH", percent(21), percent(12), true,
     "EC VAT rates document; Act 235/2004 as amended by Act 349/2023, 12 % rate from 1 January 2024 "
     "(financnisprava.cz)",
     "12 % for admission to cultural events"},
    {"DK", "Denmark", "moms", percent(25), std::nullopt, true,
     "EC VAT rates document; Momsloven (skat.dk)", "no reduced rates"},
    {"EE", "Estonia", "KM", percent(24), std::nullopt, true,
     "Estonian Tax and Customs Board, standard rate 24 % from 1 July 2025 (emta.ee); EC VAT rates document",
     "admission to cultural events is standard-rated"},
    {"FI", "Finland", "ALV", percent(25, 50), percent(13, 50), true,
     "Finnish Tax Administration, Rates of VAT, 13.5 % from 1 January 2026 "
     "(vero.fi/en/businesses-and-corporations/taxes-and-charges/vat/rates-of-vat)",
     "13.5 % for admission to cultural, entertainment and sports events"},
    {"FR", "France", "TVA", percent(20), percent(5, 50), true,
     "EC VAT rates document; Code general des impots art. 278-0 bis F (impots.gouv.fr, legifrance.gouv.fr)",
     "5.5 % for the first 140 performances of live shows; other shows 10 % (override per event)"},
    {"DE", "Germany", "USt", percent(19), percent(7), true,
     "UStG § 12 Abs. 2 Nr. 7 Buchst. a (gesetze-im-internet.de/ustg_1980/__12.html); EC VAT rates document",
     "7 % for admission to theatres, concerts and museums"},
    {"GR", "Greece", "FPA", percent(24), percent(6), true,
     "EC VAT rates document; Greek VAT Code Annex III, concerts at 6 % since 1 January 2019 (aade.gr)",
     "6 % for admission to theatres and concerts; VAT id prefix is EL"},
    {"HU", "Hungary", "AFA", percent(27), percent(18), true,
     "EC VAT rates document; Act CXXVII of 2007 (Afa tv.) Annex 3/A, entry to open-air events under "
     "Government Decree 23/2011 (nav.gov.hu)",
     "18 % for admission to open-air music and dance events; other admissions 27 % (override)"},
    {"IE", "Ireland", "VAT", percent(23), percent(9), true,
     "Revenue, VAT rates database (revenue.ie); EC VAT rates document",
     "9 % for admission to cinemas, theatres, certain musical performances and museums"},
    {"IT", "Italy", "IVA", percent(22), percent(10), true,
     "EC VAT rates document; DPR 633/1972 Tabella A parte III (agenziaentrate.gov.it)",
     "10 % for admission to theatre performances and concerts"},
    {"LV", "Latvia", "PVN", percent(21), std::nullopt, true,
     "EC VAT rates document; VAT Act section 52(1)(17) (vid.gov.lv)",
     "concerts and theatre are exempt for organisers without systematic profit (override 0 %); "
     "commercial admission is standard-rated"},
    {"LT", "Lithuania", "PVM", percent(21), percent(12), true,
     "Law XV-287 amending art. 19 of the VAT Law, 12 % from 1 January 2026 (vmi.lt); EC VAT rates document",
     "12 % for admission to art and cultural institutions and events"},
    {"LU", "Luxembourg", "TVA", percent(17), percent(3), true,
     "EC VAT rates document; Loi TVA annexe B (aed.public.lu)", "3 % for admission to cultural events"},
    {"MT", "Malta", "VAT", percent(18), percent(5), true,
     "EC VAT rates document; VAT Act Cap. 406 Eighth Schedule (cfr.gov.mt)",
     "5 % for admission to concerts, theatres, museums and exhibitions; cinemas 18 %"},
    {"NL", "Netherlands", "btw", percent(21), percent(9), true,
     "Belastingdienst, btw-tarieven (belastingdienst.nl), Wet OB 1968 Tabel I; the planned 2026 increase for "
     "culture was withdrawn; EC VAT rates document",
     "9 % for admission to concerts, theatre and museums"},
    {"PL", "Poland", "VAT", percent(23), percent(8), true,
     "EC VAT rates document; Ustawa o VAT zalacznik nr 3 (podatki.gov.pl)", "8 % for admission to cultural events"},
    {"PT", "Portugal", "IVA", percent(23), percent(6), true,
     "EC VAT rates document; Codigo do IVA Lista I verba 2.6 (info.portaldasfinancas.gov.pt)",
     "6 % for admission to live shows (mainland; Madeira and the Azores have own rates, override)"},
    {"RO", "Romania", "TVA", percent(21), std::nullopt, true,
     "Law 141/2025, Monitorul Oficial no. 699 of 25 July 2025: 21 % and a single 11 % reduced rate from "
     "1 August 2025 (anaf.ro)",
     "admission to concerts and cultural events moved to the standard rate; museums and monuments 11 %"},
    {"SK", "Slovakia", "DPH", percent(23), std::nullopt, true,
     "Act 222/2004 as amended by Act 278/2024: 23 % from 1 January 2025 (financnasprava.sk); "
     "EC VAT rates document",
     "admission to cultural events is standard-rated (sports events 5 %)"},
    {"SI", "Slovenia", "DDV", percent(22), percent(9, 50), true,
     "EC VAT rates document; ZDDV-1 Annex I (fu.gov.si)", "9.5 % for admission to shows, concerts and museums"},
    {"ES", "Spain", "IVA", percent(21), percent(10), true,
     "EC VAT rates document; Ley 37/1992 del IVA art. 91 (agenciatributaria.es)",
     "10 % for admission to live cultural shows and cinemas"},
    {"SE", "Sweden", "moms", percent(25), percent(6), true,
     "Skatteverket, Momssatser pa varor och tjanster (skatteverket.se); EC VAT rates document",
     "6 % for admission to concerts, theatre, circus and museums"},
    // --- outside the EU -------------------------------------------------------------------
    {"GB", "United Kingdom", "VAT", percent(20), std::nullopt, false,
     "HM Revenue & Customs, Rates of VAT on different goods and services "
     "(gov.uk/guidance/rates-of-vat-on-different-goods-and-services)",
     "admission is standard-rated; eligible cultural bodies are exempt (VATA 1994 Sch. 9 Group 13)"},
    {"CH", "Switzerland", "MWST", percent(8, 10), percent(2, 60), false,
     "Federal Tax Administration ESTV, MWST rates from 1 January 2024 (estv.admin.ch); MWSTG SR 641.20 "
     "art. 21 para. 2 no. 14 and art. 25 para. 2 let. c",
     "cultural admission is excluded from tax unless the organiser opts; opted admission pays 2.6 %"},
    {"NO", "Norway", "MVA", percent(25), percent(0), false,
     "Skatteetaten, Merverdiavgiftshandboken section 3-7 (skatteetaten.no/rettskilder)",
     "admission to concerts, theatre, opera and ballet is exempt; cinemas, museums, amusement parks 12 % "
     "(override)"},
    {"AU", "Australia", "GST", percent(10), std::nullopt, false,
     "Australian Taxation Office, GST (ato.gov.au); A New Tax System (Goods and Services Tax) Act 1999 s 9-70",
     "one rate"},
    {"NZ", "New Zealand", "GST", percent(15), std::nullopt, false,
     "Inland Revenue, GST (ird.govt.nz); Goods and Services Tax Act 1985 s 8", "one rate"},
    {"CA", "Canada", "GST", percent(5), std::nullopt, false,
     "Canada Revenue Agency, GST/HST rates (canada.ca/en/revenue-agency/services/tax/businesses/topics/"
     "gst-hst-businesses/charge-collect-which-rate.html)",
     "federal GST only: HST provinces (ON 13 %, NS 14 %, NB/NL/PE 15 %) and QST/PST need an override"},
}};

}  // namespace

std::span<const tax_country> tax_table() { return table; }

const tax_country* find_tax_country(std::string_view country) {
  for (const auto& row : table)
    if (row.country == country) return &row;
  return nullptr;
}

std::optional<basis_points> tax_rate(std::string_view country, tax_category category) {
  const auto* row = find_tax_country(country);
  if (row == nullptr) return std::nullopt;
  if (category == tax_category::admission && row->admission_rate) return row->admission_rate;
  return row->standard_rate;
}

bool is_eu_member_state(std::string_view country) {
  const auto* row = find_tax_country(country);
  return row != nullptr && row->eu_member;
}

expected<basis_points> line_tax_rate(std::string_view country, tax_category category,
                                     std::optional<basis_points> override_rate) {
  if (override_rate) {
    if (!is_rate(*override_rate))
      return make_pricing_error(pricing_errc::rate_out_of_range,
                                "tax rate override must be 0..10000 basis points, got " +
                                    std::to_string(override_rate->value));
    return *override_rate;
  }
  if (auto rate = tax_rate(country, category)) return *rate;
  return make_pricing_error(pricing_errc::unknown_tax_country,
                            "no shipped tax rate for country '" + std::string(country) + "': pass an override");
}

}  // namespace eventstripe::actors::pricing
