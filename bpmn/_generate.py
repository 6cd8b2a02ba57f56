"""Build the five seed SOP diagrams (bpmn/sop_00*.bpmn) from the tables in this file, with a full DI layout.

One-off authoring tool, committed so the diagrams stay reproducible. The .bpmn files are the product: once an
analyst edits one in Camunda Modeler, that file wins and this script should no longer be run over it.

    python bpmn/_generate.py            # (re)write the five files
    python bpmn/_generate.py --check    # exit 1 if a committed file differs from what the tables give

Conventions (lanes = roles, ids, extension properties, SLA timers, decisions): see bpmn/README.md.
Sources: /work/shared/DOMAIN.md §4 (the adopted reading) and the SOP sheets (shared/seeds/*.txt).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

HERE = Path(__file__).resolve().parent

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "camunda": "http://camunda.org/schema/1.0/bpmn",
    "modeler": "http://camunda.org/schema/modeler/1.0",
}


def q(tag: str) -> str:
    prefix, local = tag.split(":")
    return f"{{{NS[prefix]}}}{local}"


# ---------------------------------------------------------------------------------------------------------------
# The SOP tables
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Step:
    no: str  # "1", "4a"
    lane: str
    name: str  # short form, shown in the diagram after "<no>. "
    text: str  # full Kegiatan text from the sheet (obvious typos fixed)
    kelengkapan: str | None
    waktu: str | None  # as the SOP writes it: "15 menit", "3 jam", "2 hari"; None = no timer
    output: str | None
    keterangan: str | None = None
    question: str | None = None  # decision asked right after this step
    ya: str | None = None  # step no. the "Ya" answer leads to
    tidak: str | None = None  # step no. the "Tidak" answer leads to


@dataclass
class Sop:
    key: str
    name: str
    kantor: str
    kantor_nama: str
    zona_waktu: str
    header: dict  # nomor, tanggal_*, disahkan_oleh, dasar_hukum, ... (None/absent = not stated)
    header_text: dict  # long forms for the documentation (dates as written, etc.)
    lanes: list
    start: tuple  # (lane, name)
    end: tuple  # (lane, name)
    steps: list
    notes: list = field(default_factory=list)  # reading notes for the process documentation
    typo_fixes: list = field(default_factory=list)


def numbered(*items: str) -> str:
    return "\n".join(f"{i}. {item}" for i, item in enumerate(items, 1))


SOP_000 = Sop(
    key="sop_000_layanan_publik",
    name="SOP Layanan Publik Satuan Kerja",
    kantor="MALUT",
    kantor_nama="Kantor Wilayah Maluku Utara",
    zona_waktu="Asia/Jayapura",
    header={
        "nomor": "W.29.02.02-3982 Tahun 2022",
        "tanggal_pembuatan": "2022-08-27",
        "tanggal_revisi": None,
        "tanggal_efektif": "2022-09-01",
        "disahkan_oleh": "Kepala Kantor Wilayah, M. Adnan, NIP 19650709 198603 1 002 "
        "(ditandatangani secara elektronik)",
        "dasar_hukum": numbered(
            "Undang-Undang Nomor 25 Tahun 2009 Tentang Pelayanan Publik",
            "Peraturan Menteri Hukum dan HAM Nomor 29 Tahun 2015 tentang Organisasi dan Tata Kerja "
            "Kementerian Hukum dan HAM RI",
            "Peraturan Menteri Hukum dan HAM Nomor 30 Tahun 2018 Tentang Organisasi dan Tata Kerja Kantor "
            "Wilayah Kementerian Hukum dan HAM",
        ),
        "kualifikasi_pelaksana": numbered(
            "Sarjana Komputer",
            "Memahami Teknis Konfigurasi Keamanan Server dan Jaringan",
            "Memahami Konsep Jaringan Komputer",
            "Memiliki Kemampuan Memahami Pemeliharaan TI",
        ),
        "keterkaitan": "Indeks Kepuasan Masyarakat terhadap pelayanan yang ada di Kantor Wilayah",
        "peralatan": numbered(
            "Daftar Buku Tamu",
            "Buku Saku terkait dengan jenis Pelayanan yang terdapat di Kantor Wilayah",
            "Komputer/Printer/Scanner",
            "Jaringan internet",
        ),
        "peringatan": "Jika SOP ini tidak dilaksanakan maka kegiatan pelayanan kantor wilayah tidak",
        "pencatatan": "Disimpan sebagai data elektronik dan manual jika suatu saat diperlukan kembali",
    },
    header_text={
        "kementerian": "Kementerian Hukum dan HAM RI, Kantor Wilayah Maluku Utara",
        "tanggal_pembuatan": "27 Agustus 2022",
        "tanggal_revisi": "-",
        "tanggal_efektif": "01 September 2022",
        "peringatan_note": "kalimat terpotong pada lembar SOP; dibiarkan seperti tertulis",
    },
    lanes=["Klien", "Duta Layanan", "Kasubag/Kasubid"],
    start=("Klien", "Mulai"),
    end=("Klien", "Selesai"),
    steps=[
        Step("1", "Klien", "Klien mendatangi Front Office dan menemui Duta Pelayanan",
             "Klien mendatangi Front Office dan menemui Duta Pelayanan",
             "Kartu Tanda Penduduk", "5 menit", "Buku Tamu"),
        Step("2", "Duta Layanan", "Menginventarisir jenis layanan per divisi",
             "Duta Pelayanan menginventarisir jenis layanan per divisi sesuai yang dibutuhkan klien",
             "Dokumen Pendukung Layanan", "5 menit", "Informasi jenis layanan yang dibutuhkan"),
        Step("3", "Duta Layanan", "Mengarahkan klien ke Loker Pelayanan",
             "Duta Pelayanan mengarahkan klien ke Loker Pelayanan untuk menemui salah seorang Petugas Pelayanan "
             "sesuai jenis layanan yang diinginkan klien (perlu diketahui, petugas layanan ini mewakili "
             "masing-masing divisi).",
             "Dokumen Pendukung Layanan", "5 menit", "Petugas layanan sesuai layanan"),
        Step("4", "Duta Layanan", "Petugas Layanan memberikan pelayanan",
             "Petugas Layanan memberikan pelayanan yang dibutuhkan oleh klien sesuai dengan data dan informasi "
             "hasil inventarisir",
             "Informasi", "5 menit", "Laporan Pelaksanaan Pelayanan Publik"),
        Step("5", "Kasubag/Kasubid", "Layanan diteruskan kepada Kepala Sub Bidang terkait",
             "Petugas Layanan meneruskan kepada Kepala Sub Bidang yang berkaitan dengan kebutuhan layanan klien",
             "Dokumentasi", "5 menit", "Laporan Pelaksanaan Pelayanan Publik terkait TI"),
        Step("6", "Klien", "Klien memberikan penilaian pada survei kepuasan",
             "Klien memberikan penilaian pada survey kepuasan pelayanan",
             "Dokumentasi", "5 menit", "Indeks Kepuasan Masyarakat"),
    ],
    notes=[
        '"Petugas Layanan" tidak punya kolom sendiri: langkah 4 dilakukan di front office (lajur Duta '
        "Layanan); langkah 5 berada pada Kasubag/Kasubid yang menerima layanan yang diteruskan.",
    ],
    typo_fixes=[
        '"Pertugas" → "Petugas" (langkah 4, 5)',
        '"di inginkan" → "diinginkan" (langkah 3)',
        '"di butuhkan" → "dibutuhkan" (output langkah 2)',
        '"Indek" → "Indeks" (output langkah 6)',
        '"Scanne" → "Scanner" (peralatan)',
    ],
)

SOP_001 = Sop(
    key="sop_001_standar_pelayanan",
    name="Penyusunan Standar Pelayanan dan Maklumat Pelayanan",
    kantor="",
    kantor_nama="",
    zona_waktu="Asia/Jakarta",
    header={
        "nomor": "KWL.KHH.I.2f",
        "tanggal_pembuatan": "2019-12-20",
        "tanggal_revisi": None,
        "tanggal_efektif": "2020-01-22",
        "disahkan_oleh": "Sekretaris Jenderal, NIP 19601215 198802 1 001",
        "dasar_hukum": numbered(
            "Undang-Undang Nomor 25 Tahun 2009 tentang Pelayanan Publik",
            "Peraturan Pemerintah Nomor 96 Tahun 2012 tentang Pelaksanaan Undang-Undang Nomor 25 Tahun 2009 "
            "tentang Pelayanan Publik",
            "Peraturan Menteri Pendayagunaan Aparatur Negara dan Reformasi Birokrasi Nomor 15 Tahun 2014 "
            "tentang Pedoman Standar Pelayanan",
            "Keputusan Menteri Hukum dan Hak Asasi Manusia Nomor M.HH-05 OT.02.01 Tahun 2016 tentang Petunjuk "
            "Teknis Penyusunan Standar Pelayanan dan Maklumat Pelayanan di Lingkungan Kementerian Hukum dan Hak "
            "Asasi Manusia",
            "Peraturan Menteri Hukum dan Hak Asasi Manusia Nomor 30 Tahun 2018 tentang Organisasi dan Tata Kerja "
            "Kantor Wilayah Kementerian Hukum dan Hak Asasi Manusia",
        ),
        "kualifikasi_pelaksana": numbered(
            "Memahami teknis penyusunan Standar Pelayanan dan Maklumat Pelayanan",
            "Memahami organisasi dan tata kerja Kementerian Hukum dan HAM",
        ),
        "keterkaitan": numbered("SOP Penyusunan Standar Operasional Prosedur Kantor Wilayah"),
        "peralatan": numbered("Komputer/Printer/Scanner", "Jaringan Internet", "Jaringan Telekomunikasi", "ATK"),
        "peringatan": "Apabila SOP tidak dilaksanakan maka Standar Pelayanan dan Maklumat Pelayanan di lingkungan "
        "Kantor Wilayah tidak dapat tersusun dengan baik.",
        "pencatatan": "Disimpan sebagai data elektronik dan manual jika suatu saat diperlukan kembali",
    },
    header_text={
        "kementerian": "Kementerian Hukum dan Hak Asasi Manusia, Kantor Wilayah, Divisi Administrasi "
        "(templat kementerian; setiap Kanwil mengadopsinya)",
        "tanggal_pembuatan": "20 Desember 2019",
        "tanggal_revisi": "(kosong)",
        "tanggal_efektif": "22 Januari 2020",
        "disahkan_note": "nama pejabat tidak terbaca utuh pada teks sumber; tidak dicantumkan",
    },
    lanes=["Ka Kanwil", "Kadiv Administrasi", "Kabag Program dan Humas", "Kasubbag Program dan Pelaporan",
           "Pelaksana"],
    start=("Ka Kanwil", "Mulai"),
    end=("Ka Kanwil", "SP/MP ditandatangani"),
    steps=[
        Step("1", "Ka Kanwil", "Menugaskan Kadiv Administrasi menyusun SP/MP",
             "Menugaskan Kadiv Administrasi untuk menyusun Standar Pelayanan dan Maklumat Pelayanan",
             None, None, "Disposisi"),
        Step("2", "Kadiv Administrasi", "Menerima disposisi, memerintahkan Kabag",
             "Menerima disposisi dan memerintahkan Kabag Program dan Humas untuk melakukan menyusun SP/MP",
             "Disposisi", "15 menit", "Disposisi"),
        Step("3", "Kabag Program dan Humas", "Mempelajari dan menugaskan Kasubbag",
             "Mempelajari dan menugaskan Kasubbag Program dan Pelaporan untuk menyelenggarakan kegiatan "
             "penyusunan SP/MP",
             "Disposisi", "15 menit", "Disposisi"),
        Step("4", "Kasubbag Program dan Pelaporan", "Menyusun rencana kegiatan dan arahan",
             "Menyusun rencana kegiatan dan memberikan arahan kepada pelaksana untuk menyiapkan bahan pelaksanaan "
             "kegiatan penyusunan SP/MP",
             "Disposisi", "3 jam", "Rencana kegiatan dan arahan",
             keterangan="SOP Pembentukan Tim Penyusunan SP/MP Kantor Wilayah"),
        Step("5", "Pelaksana", "Mengumpulkan bahan, menyiapkan draft SP/MP",
             "Mengumpulkan bahan dan data dukung, menyiapkan materi, konsep persuratan dan draft SP/MP untuk "
             "disampaikan kepada Kasubbag Program dan Pelaporan",
             "Rencana kegiatan dan arahan", "3 hari", "Draft SP/MP",
             keterangan="Kegiatan Penyusunan draft SP/MP dilakukan oleh Tim Penyusunan SP & MP Kanwil"),
        Step("6", "Kasubbag Program dan Pelaporan", "Mengoreksi draft SP/MP",
             "Mengoreksi materi, konsep persuratan dan draft SP/MP, selanjutnya memberikan arahan kepada "
             "pelaksana untuk menyiapkan bahan dalam rangka pelaksanaan pembahasan draft SP/MP dengan masyarakat",
             "Draft SP/MP", "3 jam", "Rencana kegiatan & draft SP/MP",
             question="Draft SP/MP sesuai?", ya="7", tidak="5"),
        Step("7", "Pelaksana", "Menyiapkan bahan pembahasan dengan masyarakat",
             "Menyiapkan bahan dan draft SP/MP untuk dilakukan pembahasan bersama dengan masyarakat dan "
             "menyampaikan kepada Kasubbag Program dan Pelaporan",
             "Rencana kegiatan & draft SP/MP", "1 hari", "Bahan dan draft SP/MP"),
        Step("8", "Kasubbag Program dan Pelaporan", "Menyelenggarakan pembahasan bersama masyarakat, melapor ke Kabag",
             "Menyelenggarakan kegiatan pembahasan draft SP/MP bersama dengan masyarakat dan melaporkan hasil "
             "kepada Kabag Program dan Humas",
             "Bahan dan draft SP/MP", "1 hari", "Konsep laporan & draft SP/MP"),
        Step("9", "Kabag Program dan Humas", "Mempelajari laporan dan draft",
             "Mempelajari laporan dan draft SP/MP selanjutnya menyampaikan kepada Kadiv Administrasi untuk "
             "mendapatkan persetujuan",
             "Konsep laporan & draft SP/MP", "30 menit", "Konsep laporan & draft SP/MP",
             question="Laporan dan draft sesuai?", ya="10", tidak="8"),
        Step("10", "Kadiv Administrasi", "Menyetujui laporan",
             "Menyetujui laporan dan menyampaikan draft SP/MP kepada Ka Kanwil untuk mendapatkan persetujuan",
             "Konsep laporan & draft SP/MP", "30 menit", "Laporan & draft SP/MP",
             question="Laporan disetujui?", ya="11", tidak="9"),
        Step("11", "Ka Kanwil", "Menerima laporan dan menandatangani SP/MP",
             "Menerima laporan dan menandatangani draft SP/MP",
             "Laporan & draft SP/MP", "30 menit", "SP/MP kantor wilayah"),
    ],
    notes=[
        "Langkah 1 tidak punya waktu baku pada lembar SOP (kolom Waktu berisi \"Disposisi\", yaitu output): "
        "tanpa timer.",
        "Keputusan dibaca dari penanda [Y]/[T]: setelah 6 (Ya → 7, Tidak → 5), setelah 9 (Ya → 10, "
        "Tidak → 8), setelah 10 (Ya → 11, Tidak → 9).",
        "Templat kementerian: properti kantor dikosongkan; zona_waktu Asia/Jakarta hanya bawaan bila kantor "
        "yang mengadopsi belum ditentukan.",
    ],
    typo_fixes=[],
)

SOP_002 = Sop(
    key="sop_002_kelompok_rentan",
    name="Pelayanan Kepada Kelompok Rentan",
    kantor="DKI",
    kantor_nama="Kantor Wilayah DKI Jakarta",
    zona_waktu="Asia/Jakarta",
    header={
        "nomor": "W.10-UM.01.01-08",
        "tanggal_pembuatan": "2025-01-06",
        "tanggal_revisi": None,
        "tanggal_efektif": "2025-01-06",
        "disahkan_oleh": "Kepala Kantor Wilayah, Romi Yudianto, NIP 197706261997031001 "
        "(ditandatangani secara elektronik)",
        "dasar_hukum": numbered(
            "Undang-Undang Nomor 14 Tahun 2008 tentang Keterbukaan Informasi Publik",
            "Undang-Undang Nomor 25 Tahun 2009 tentang pelayanan publik",
            "Peraturan Pemerintah Nomor 96 Tahun 2012 tentang Pelaksanaan Undang-Undang Nomor 25 Tahun 2009 "
            "tentang Pelayanan Publik",
            "Peraturan Presiden Nomor 155 Tahun 2024 tentang Kementerian Hukum (Lembaran Negara Republik "
            "Indonesia Tahun 2024 Nomor 255, Tambahan Lembaran Negara Republik Indonesia Nomor 6994)",
            "Peraturan Menteri Hukum Nomor 1 Tahun 2024 tentang Organisasi Tata Kerja Kementerian Hukum "
            "(Berita Negara Republik Indonesia Tahun 2024 Nomor 832)",
            "Peraturan Menteri Hukum dan Hak Asasi Manusia Republik Indonesia Nomor 02 Tahun 2024 Tentang "
            "Organisasi Dan Tata Kerja Kantor Wilayah Kementerian Hukum",
        ),
        "kualifikasi_pelaksana": None,
        "keterkaitan": None,
        "peralatan": None,
        "peringatan": "Apabila SOP ini tidak dilaksanakan maka kegiatan pelayanan kepada kelompok rentan akan "
        "terhambat.",
        "pencatatan": "Disimpan sebagai data elektronik dan manual.",
    },
    header_text={
        "kementerian": "Kementerian Hukum Republik Indonesia, Kantor Wilayah Daerah Khusus Jakarta",
        "tanggal_pembuatan": "06 Januari 2025",
        "tanggal_revisi": "-",
        "tanggal_efektif": "06 Januari 2025",
        "rusak": "Kualifikasi Pelaksana, Keterkaitan dan Peralatan/Perlengkapan rusak pada teks sumber "
        "(hanya potongan terbaca: \"...sinya dalam alur SOP; ...yanan pada Kantor Wilayah; ...t pengolah data "
        "dan teknologi informasi.\"); tidak diisi. Lengkapi dari lembar SOP asli.",
    },
    lanes=["Pemohon", "Petugas Pengamanan", "Duta Pelayanan", "Petugas Pelayanan", "Manajer On Duty"],
    start=("Pemohon", "Mulai"),
    end=("Manajer On Duty", "Laporan diterima"),
    steps=[
        Step("1", "Pemohon", "Pemohon dari kelompok rentan sampai di Kantor Wilayah",
             "Pemohon pelayanan dari kelompok rentan sampai di Kantor Wilayah.",
             "Dropzone, petunjuk arah", "3 menit", "Pelayanan kepada kelompok rentan"),
        Step("2", "Petugas Pengamanan",
             "Mengarahkan ke parkir khusus, menyiapkan sarana, mengantar ke antrian khusus",
             "Petugas Pengamanan mengarahkan ke parkir khusus dan menyiapkan sarana prasarana sesuai dengan "
             "kebutuhan kelompok rentan untuk digunakan oleh pemohon, lalu mengantarkan pemohon menuju lobby "
             "pelayanan pada antrian khusus kelompok rentan.",
             "Petunjuk arah, sarana prasarana", "3 menit", "Sarana dan antrian khusus"),
        Step("3", "Duta Pelayanan",
             "Mendampingi ke loket, mencatat keperluan, registrasi, informasi prosedur",
             "Duta pelayanan mendampingi kelompok rentan ke loket pelayanan, mencatat keperluan, meregistrasi dan "
             "memberikan informasi tentang prosedur pelayanan kepada pemohon lalu mendampingi pemohon untuk "
             "menunggu pelayanan di area tunggu prioritas.",
             "Sarana, komputer, aplikasi antrian, printer", "3 menit",
             "Informasi prosedur, nomor antrian, registrasi"),
        Step("4", "Petugas Pelayanan", "Memberikan layanan, meminta pemohon mengisi survei IKM",
             "Petugas pelayanan memberikan layanan dan informasi kepada pemohon. Lalu meminta pemohon mengisi "
             "Survey Indeks Kepuasan Masyarakat",
             "Sarana, komputer, form survei", "10 menit", "Layanan diberikan; penilaian masyarakat"),
        Step("5", "Petugas Pengamanan", "Mendampingi ke pintu keluar, meminta kembali sarana",
             "Petugas keamanan mendampingi pemohon layanan menuju pintu keluar lalu meminta kembali sarana "
             "prasarana sesuai kebutuhan kelompok rentan yang digunakan oleh pemohon.",
             "Dropzone, petunjuk arah", "3 menit", "Pelayanan kepada kelompok rentan"),
        Step("6", "Duta Pelayanan", "Melaporkan kepada Manajer On Duty",
             "Duta layanan melaporkan kepada Manajer On Duty.",
             "Laporan pelayanan", "3 menit", "Laporan pelayanan"),
    ],
    notes=[
        '"Petugas keamanan" = Petugas Pengamanan; "Duta layanan" = Duta Pelayanan.',
        "Selesai di lajur Manajer On Duty (laporan diterima).",
    ],
    typo_fixes=[
        '"Manjer On Duty" → "Manajer On Duty" (kolom pelaksana)',
        '"mendampingin" → "mendampingi" (langkah 3)',
        '"tantang Oraganisasi" → "tentang Organisasi" (dasar hukum 5)',
        '"Repubik" → "Republik" (dasar hukum 5)',
    ],
)

SOP_003 = Sop(
    key="sop_003_pengaduan_masyarakat",
    name="Layanan Pengaduan Masyarakat",
    kantor="BABEL",
    kantor_nama="Kantor Wilayah Kepulauan Bangka Belitung",
    zona_waktu="Asia/Jakarta",
    header={
        "nomor": "W.7-OT.01.02-566",
        "tanggal_pembuatan": "2020-01-02",
        "tanggal_revisi": None,
        "tanggal_efektif": "2020-01-02",
        "disahkan_oleh": "Kepala Kantor Wilayah, Drs. Anas Jaeful Anwar, Bc. IP., M.Si, NIP 196202191986031002",
        "dasar_hukum": numbered(
            "Undang-Undang Nomor 5 Tahun 2014 tentang Aparatur Sipil Negara",
            "Undang-Undang Nomor 14 Tahun 2008 tentang Keterbukaan Informasi Publik",
            "Peraturan Pemerintah Nomor 61 Tahun 2010 tentang Pelaksanaan Undang-Undang Nomor 14 Tahun 2008",
            "Peraturan Menteri Hukum dan HAM Nomor 30 Tahun 2018 Tentang Organisasi dan Tata Kerja Kantor "
            "Wilayah Kementerian Hukum dan HAM",
        ),
        "kualifikasi_pelaksana": numbered(
            "Memiliki tugas dan fungsi Sistem dan Prosedur Administrasi Pemerintahan",
            "Mengetahui dan memahami Peraturan tentang Penanganan Pengaduan Masyarakat",
            "Mengetahui dan memahami Peraturan tentang Keterbukaan Informasi Publik",
        ),
        "keterkaitan": None,
        "peralatan": numbered("Surat Permohonan/Disposisi", "Komputer/Printer/Scanner", "Jaringan Internet",
                              "Jaringan Telekomunikasi"),
        "peringatan": "Apabila data-data/persyaratan yang diperlukan tidak terkumpul tepat waktu maka "
        "terlambatnya penanganan Layanan Pengaduan Masyarakat",
        "pencatatan": "Disimpan sebagai data elektronik dan manual",
    },
    header_text={
        "kementerian": "Kementerian Hukum dan Hak Asasi Manusia, Kantor Wilayah Kementerian Hukum dan HAM "
        "Kep. Bangka Belitung",
        "tanggal_pembuatan": "2 Januari 2020",
        "tanggal_revisi": "-",
        "tanggal_efektif": "2 Januari 2020",
    },
    lanes=["Divisi Terkait", "Kakanwil", "Kadiv", "Kabag P2", "Kasubag PPHTI", "Pelapor"],
    start=("Pelapor", "Mulai"),
    end=("Pelapor", "Jawaban diterima"),
    steps=[
        Step("1", "Pelapor", "Menyampaikan laporan pengaduan",
             "Pelapor menyampaikan laporan pengaduan secara langsung/tidak langsung terkait dengan dugaan "
             "pelanggaran dari Divisi/UPT/Masyarakat/Media",
             "Surat", "30 menit", "Mengetahui permasalahan"),
        Step("2", "Kakanwil", "Memerintahkan Kadivmin menindaklanjuti",
             "Kakanwil memerintahkan Kadivmin untuk menindaklanjuti laporan pengaduan/konfirmasi kebenaran "
             "pengaduan tersebut",
             "Disposisi", "10 menit", "Disposisi/instruksi"),
        Step("3", "Kadiv", "Memerintahkan Kabag P2 memproses",
             "Kadivmin memerintahkan Kabag P2 untuk memproses laporan pengaduan",
             "Disposisi", "15 menit", "Laporan"),
        Step("4", "Kabag P2", "Memerintahkan Kasubag PPHTI memproses",
             "Kabag P2 memerintahkan Kasubag PPHTI untuk memproses laporan pengaduan",
             "Disposisi", "15 menit", "Laporan"),
        Step("5", "Kasubag PPHTI", "Menelaah dan memeriksa kelengkapan laporan",
             "Kasubag PPHTI menelaah dan meneliti, memeriksa syarat kelengkapan laporan pengaduan",
             "Berkas laporan", "60 menit", "Hasil telaahan"),
        Step("6", "Kasubag PPHTI", "Membuat konsep nota dinas ke divisi terkait",
             "Kasubag PPHTI membuat konsep nota dinas Divisi Administrasi terkait laporan pengaduan untuk "
             "disampaikan ke divisi terkait untuk ditindaklanjuti",
             "Draft nota dinas", "25 menit", "Nota dinas"),
        Step("7", "Kasubag PPHTI", "Menyampaikan konsep nota dinas ke Kabag P2",
             "Kasubag PPHTI menyampaikan konsep nota dinas Divisi Administrasi ke Kabag P2 untuk dikoreksi dan "
             "paraf",
             "Draft nota dinas", "25 menit", "Nota dinas"),
        Step("8", "Kabag P2", "Menyampaikan konsep nota dinas ke Kadivmin",
             "Kabag P2 menyampaikan konsep nota dinas ke Kadivmin untuk dikoreksi dan paraf",
             "Nota dinas", "20 menit", "Nota dinas"),
        Step("9", "Kadiv", "Menyampaikan nota dinas ke Kakanwil, diteruskan ke divisi terkait",
             "Kadivmin menyampaikan nota dinas ke Kakanwil untuk koreksi dan ditandatangani dan diteruskan ke "
             "Divisi terkait untuk",
             "Nota dinas", "15 menit", "Nota dinas"),
        Step("10", "Divisi Terkait", "Memberikan jawaban/informasi",
             "Divisi terkait memberikan jawaban/informasi atas laporan yang disampaikan dalam bentuk "
             "laporan/press release",
             "Laporan/press release", "20 menit", "Laporan/press release"),
        Step("11", "Kakanwil", "Memerintahkan Kadiv menyampaikan jawaban",
             "Kakanwil memerintahkan Kadiv terkait untuk menyampaikan jawaban kepada masyarakat",
             "Laporan/press release", "10 menit", "Laporan/press release"),
        Step("12", "Kadiv", "Memerintahkan Kabag P2 menyampaikan jawaban",
             "Kadivmin memerintahkan Kabag P2 untuk menyampaikan jawaban kepada masyarakat",
             "Laporan/press release", "10 menit", "Laporan/press release"),
        Step("13", "Kabag P2", "Memerintahkan Kasubag PPHTI menyampaikan jawaban",
             "Kabag P2 memerintahkan Kasubag PPHTI untuk menyampaikan jawaban kepada masyarakat",
             "Laporan/press release", "15 menit", "Laporan/press release"),
        Step("14", "Kasubag PPHTI", "Meneruskan jawaban kepada masyarakat (langsung / website)",
             "Kasubag PPHTI meneruskan jawaban kepada masyarakat secara langsung atau melalui website",
             "Laporan/press release", "20 menit", "Laporan/press release"),
    ],
    notes=[
        '"Kadivmin" = Kadiv.',
        "Kalimat langkah 9 terpotong pada lembar SOP (\"...diteruskan ke Divisi terkait untuk\"): dibiarkan "
        "seperti tertulis.",
        "Tidak ada keputusan yang digambar. Selesai di lajur Pelapor (jawaban diterima).",
    ],
    typo_fixes=[
        '"sasarat" → "syarat" (langkah 5)',
        '"Undan-Undang" → "Undang-Undang" (dasar hukum 1)',
        '"Di simpan" → "Disimpan" (pencatatan)',
    ],
)

ROW4 = "Pejabat berwenang beserta petugas YANKOMAS melakukan telaahan isi aduan"

SOP_004 = Sop(
    key="sop_004_yankomas",
    name="Pelayanan Komunikasi Masyarakat",
    kantor="BENGKULU",
    kantor_nama="Kantor Wilayah Bengkulu",
    zona_waktu="Asia/Jakarta",
    header={
        "nomor": "W.8.OT.02.01-74",
        "tanggal_pembuatan": "2024-05-06",
        "tanggal_revisi": None,
        "tanggal_efektif": "2024-05-06",
        "disahkan_oleh": "Kepala Kantor Wilayah, Santosa, NIP 19650702 198703 1 001 "
        "(ditandatangani secara elektronik)",
        "dasar_hukum": numbered(
            "Undang-Undang Nomor 39 Tahun 1999 tentang Hak Asasi Manusia",
            "Undang-Undang Nomor 25 Tahun 2009 tentang Pengelolaan Pengaduan Pelayanan Publik",
            "SOP Nomor HAM-HA.01.07-06 Tahun 2020",
        ),
        "kualifikasi_pelaksana": numbered(
            "Pegawai yang telah lulus dan diangkat menjadi ASN sesuai dengan kriterianya terdiri dari lulusan "
            "Pasca Sarjana, Sarjana, dan Ahli Madya",
            "ASN yang tugas dan fungsinya di bidang Hak Asasi Manusia",
        ),
        "keterkaitan": "SOP Pengelolaan Surat Masuk",
        "peralatan": numbered(
            "Ruang tunggu", "Ruang pelayanan", "Perangkat pengolah data", "Alat pengukur Indeks Kepuasan Masyarakat",
            "Lahan parkir", "Jalan akses penyandang disabilitas", "Toilet umum dan toilet khusus penyandang "
            "disabilitas", "Ruang laktasi ruang bermain anak", "Musholla", "Kantin",
            "Kursi roda bagi penyandang disabilitas",
        ),
        "peringatan": "Pelaksana bertanggung jawab atas pelaksanaan aktivitas yang telah dibakukan dan ditetapkan",
        "pencatatan": None,
    },
    header_text={
        "kementerian": "Kantor Wilayah Kementerian Hukum dan HAM Bengkulu",
        "tanggal_pembuatan": "6 Mei 2024",
        "tanggal_revisi": "(kosong)",
        "tanggal_efektif": "6 Mei 2024",
    },
    lanes=["Masyarakat", "Tim Yankomas", "Kakanwil", "Kadiv Yankum", "Kabid HAM", "Kasubbid Pemajuan HAM",
           "Institusi Terkait"],
    start=("Masyarakat", "Mulai"),
    end=("Masyarakat", "Selesai"),
    steps=[
        Step("1", "Masyarakat", "Pemohon menyampaikan aduan", "Pemohon menyampaikan aduan",
             None, "15 menit", None),
        Step("2", "Tim Yankomas", "Mencatat aduan di buku register aduan",
             "Petugas mencatat aduan di buku register aduan",
             "Surat Pengaduan", "15 menit", None),
        Step("3", "Tim Yankomas", "Menyampaikan isi aduan ke pejabat berwenang",
             "Petugas menyampaikan isi aduan ke pejabat berwenang",
             "Surat Pengaduan", "15 menit", "Disposisi"),
        Step("4a", "Kakanwil", "Kakanwil mendisposisikan aduan",
             ROW4 + "\n\n(Baris 4, bagian 4a: disposisi Kakanwil.)",
             "Surat Pengaduan", None, "Disposisi"),
        Step("4b", "Kadiv Yankum", "Kadiv Yankum mendisposisikan aduan",
             ROW4 + "\n\n(Baris 4, bagian 4b: disposisi Kadiv Yankum.)",
             "Surat Pengaduan", None, "Disposisi"),
        Step("4c", "Kabid HAM", "Kabid HAM mendisposisikan aduan",
             ROW4 + "\n\n(Baris 4, bagian 4c: disposisi Kabid HAM.)",
             "Surat Pengaduan", None, "Disposisi"),
        Step("4d", "Kasubbid Pemajuan HAM", "Menelaah isi aduan bersama Tim Yankomas",
             ROW4 + "\n\n(Baris 4, bagian 4d: telaahan oleh Kasubbid Pemajuan HAM bersama Tim Yankomas, yang "
             "mencatat apakah audiensi diperlukan. Waktu baku baris 4, 2 hari, berlaku untuk 4a-4d bersama.)",
             "Surat Pengaduan", "2 hari", None,
             question="Audiensi diperlukan?", ya="5", tidak="6"),
        Step("5", "Kasubbid Pemajuan HAM", "Pelaksanaan koordinasi/audiensi",
             "Pelaksanaan kegiatan koordinasi/audiensi",
             "Surat Pengaduan", "3 hari", "Disposisi dan usulan audiensi",
             keterangan="Apabila hasil penelaahan diperlukan audiensi"),
        Step("6", "Kasubbid Pemajuan HAM", "Penyusunan dan penyampaian surat rekomendasi",
             "Penyusunan dan penyampaian surat rekomendasi hasil koordinasi/audiensi",
             "Surat Rekomendasi", "2 hari", "Disposisi dan usulan audiensi"),
        Step("7", "Tim Yankomas", "Pemantauan pelaksanaan rekomendasi",
             "Pemantauan pelaksanaan rekomendasi",
             "Surat Rekomendasi", "22 hari", "Hasil Evaluasi"),
    ],
    notes=[
        "Baris 4 (tiga output \"Disposisi\") dibaca sebagai rantai disposisi 4a Kakanwil, 4b Kadiv Yankum, "
        "4c Kabid HAM, lalu 4d telaahan oleh Kasubbid Pemajuan HAM bersama Tim Yankomas.",
        "4a-4d dimodelkan sebagai empat user task biasa (bukan embedded subprocess): SpiffWorkflow 3.2.0 "
        "memberi task di dalam subprocess lajur milik subprocess itu. Batas waktu 2 hari baris 4 dipasang "
        "sebagai timer pada 4d.",
        "Keputusan setelah 4d: audiensi diperlukan? Ya → 5 → 6; Tidak → 6.",
        "Kelengkapan/Output langkah 6 tampak disalin dari langkah 5 pada lembar SOP: dibiarkan seperti tertulis.",
        "Lajur Institusi Terkait ada di lembar SOP tetapi tidak memiliki langkah.",
    ],
    typo_fixes=[
        '"audiens" → "audiensi" (langkah 5, 6)',
        '"Undang–Undang" (tanda pisah) → "Undang-Undang" (dasar hukum 1, 2)',
    ],
)

SOPS = [SOP_000, SOP_001, SOP_002, SOP_003, SOP_004]

HEADER_LABELS = [
    ("nomor", "Nomor SOP"),
    ("tanggal_pembuatan", "Tanggal pembuatan"),
    ("tanggal_revisi", "Tanggal revisi"),
    ("tanggal_efektif", "Tanggal efektif"),
    ("disahkan_oleh", "Disahkan oleh"),
    ("dasar_hukum", "Dasar hukum"),
    ("kualifikasi_pelaksana", "Kualifikasi pelaksana"),
    ("keterkaitan", "Keterkaitan"),
    ("peralatan", "Peralatan/perlengkapan"),
    ("peringatan", "Peringatan"),
    ("pencatatan", "Pencatatan dan pendataan"),
]


# ---------------------------------------------------------------------------------------------------------------
# Helpers: ids, durations, text metrics
# ---------------------------------------------------------------------------------------------------------------


def lane_id(name: str) -> str:
    return "Lane_" + "".join(w[:1].upper() + w[1:] for w in re.split(r"[^0-9A-Za-z]+", name) if w)


UNITS = {"menit": ("T", "M"), "jam": ("T", "H"), "hari": ("", "D")}


def iso_duration(waktu: str) -> str:
    amount, unit = waktu.split()
    t, letter = UNITS[unit.lower()]
    return f"P{t}{int(amount)}{letter}"


# Arial / Liberation Sans advance widths (1/1000 em); bpmn-js renders external labels at 11px.
_W = dict(zip(" !\"#$%&'()*+,-./", [278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278],
              strict=True))
_W.update({c: 556 for c in "0123456789"})
_W.update(dict(zip(":;<=>?@", [278, 278, 584, 584, 584, 556, 1015], strict=True)))
_W.update(dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                   [667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667,
                    611, 722, 667, 944, 667, 667, 611], strict=True)))
_W.update(dict(zip("abcdefghijklmnopqrstuvwxyz",
                   [556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500,
                    278, 556, 500, 722, 500, 500, 500], strict=True)))


def text_width(text: str, size: float = 11) -> float:
    return sum(_W.get(c, 556) for c in text) * size / 1000


def wrap(text: str, max_width: float, size: float = 11) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and text_width(lines[-1] + " " + word, size) <= max_width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def label_size(text: str, max_width: float = 90) -> tuple[int, int]:
    """Width/height bpmn-js would give an external label (11px, 90px wrap, ~13.5px per line)."""
    lines = wrap(text, max_width)
    width = max(text_width(line) for line in lines)
    return int(width + 2), int(round(len(lines) * 13.5 + 0.5))


# ---------------------------------------------------------------------------------------------------------------
# Graph: nodes in column order and sequence flows
# ---------------------------------------------------------------------------------------------------------------

EVENT, GATEWAY = 36, 50


def task_size(sop: Sop) -> tuple[int, int]:
    """Smallest task box (shared by all tasks of the SOP) that fits every name in four 12px lines."""
    names = [f"{s.no}. {s.name}" for s in sop.steps]
    width = next(w for w in (140, 150, 160, 180) if all(len(wrap(n, w - 10, 12)) <= 4 for n in names))
    lines = max(len(wrap(n, width - 10, 12)) for n in names)
    return width, 10 * math.ceil((lines * 14.4 + 50) / 10)


@dataclass
class Node:
    id: str
    kind: str  # start, end, task, decision, merge
    lane: str
    name: str = ""
    step: Step | None = None
    x: float = 0
    y: float = 0
    w: float = 0
    h: float = 0
    label: tuple | None = None  # (x, y, w, h)
    label_pos: str = "below"

    @property
    def cx(self):
        return self.x + self.w / 2

    @property
    def cy(self):
        return self.y + self.h / 2


@dataclass
class Flow:
    id: str
    source: str
    target: str
    name: str = ""
    condition: str | None = None
    kind: str = "forward"  # forward, back (Tidak that jumps), sla
    waypoints: list = field(default_factory=list)
    label: tuple | None = None


def build_graph(sop: Sop):
    by_no = {s.no: s for s in sop.steps}
    order = [s.no for s in sop.steps]
    incoming: dict[str, int] = {no: 0 for no in order}
    for i, s in enumerate(sop.steps):
        if s.question:
            incoming[s.ya] += 1
            incoming[s.tidak] += 1
        elif i + 1 < len(order):
            incoming[order[i + 1]] += 1
    incoming[order[0]] += 1

    def entry(no: str) -> str:
        return f"Gabung_{no}" if incoming[no] > 1 else f"Langkah_{no}"

    nodes = [Node("Mulai", "start", sop.start[0], sop.start[1])]
    flows = [Flow("Flow_Mulai", "Mulai", entry(order[0]))]
    for i, s in enumerate(sop.steps):
        if incoming[s.no] > 1:
            nodes.append(Node(f"Gabung_{s.no}", "merge", s.lane))
            flows.append(Flow(f"Flow_Gabung_{s.no}", f"Gabung_{s.no}", f"Langkah_{s.no}"))
        nodes.append(Node(f"Langkah_{s.no}", "task", s.lane, f"{s.no}. {s.name}", step=s))
        if s.question:
            gw = f"Keputusan_{s.no}"
            nodes.append(Node(gw, "decision", s.lane, s.question))
            flows.append(Flow(f"Flow_Langkah_{s.no}", f"Langkah_{s.no}", gw))
            for answer, target in (("Ya", s.ya), ("Tidak", s.tidak)):
                adjacent = order.index(target) == i + 1
                flows.append(Flow(f"Flow_{gw}_{answer}", gw, entry(target), answer, f'keputusan == "{answer}"',
                                  "forward" if adjacent else "back"))
        else:
            target = entry(order[i + 1]) if i + 1 < len(order) else "Selesai"
            flows.append(Flow(f"Flow_Langkah_{s.no}", f"Langkah_{s.no}", target))
    nodes.append(Node("Selesai", "end", sop.end[0], sop.end[1]))
    assert all(by_no[s.ya] and by_no[s.tidak] for s in sop.steps if s.question)
    return nodes, flows


# ---------------------------------------------------------------------------------------------------------------
# Layout
# ---------------------------------------------------------------------------------------------------------------

POOL_X, POOL_Y = 160, 80
LABEL_BAND = 30  # pool and lane name bands
GAP = 46  # free space between the decorations of two columns; vertical connectors run in its middle
BAND = 16  # a jumping "Tidak" flow runs this far below the top of its target lane


def sla_geometry(task: Node):
    """Boundary timer on the bottom edge, escalation end event below-right, labels placed clear of the stem."""
    bx, by = task.x + task.w / 2 - EVENT / 2, task.y + task.h - EVENT / 2
    ex, ey = task.x + task.w / 2 + 27, task.y + task.h + 32
    timer_text = f"Waktu baku {task.step.waktu}"
    lines = wrap(timer_text, 62)
    tw = int(max(text_width(line) for line in lines) + 2)
    th = int(round(len(lines) * 13.5 + 0.5))
    timer_label = (bx + EVENT / 2 - 5 - tw, by + EVENT + 3, tw, th)
    lw, lh = label_size("SLA terlampaui")
    end_label = (ex + EVENT / 2 - lw / 2, ey + EVENT + 7, lw, lh)
    return (bx, by), timer_label, (ex, ey), end_label


def _size(n: Node, task_w: int, task_h: int) -> None:
    if n.kind == "task":
        n.w, n.h = task_w, task_h
    elif n.kind in ("start", "end"):
        n.w = n.h = EVENT
    else:
        n.w = n.h = GATEWAY


def _jumps_up(sop: Sop, nodes: dict, flows: list[Flow]) -> dict[str, bool]:
    """Per decision with a jumping Tidak flow: does it leave upwards (target lane not below the gateway)?"""
    lane_index = {name: i for i, name in enumerate(sop.lanes)}
    return {f.source: lane_index[nodes[f.target].lane] <= lane_index[nodes[f.source].lane]
            for f in flows if f.kind == "back"}


def _bottom_extent(n: Node, task_h: float) -> float:
    """How far below the top of its lane's task row a node and its decorations reach."""
    if n.kind == "task":
        return task_h + 90 if n.step.waktu else task_h
    if n.kind in ("start", "end"):
        return task_h / 2 + EVENT / 2 + 7 + label_size(n.name)[1]
    if n.kind == "decision" and n.label_pos == "below":
        return task_h / 2 + GATEWAY / 2 + 5 + label_size(n.name)[1]
    return task_h / 2 + GATEWAY / 2


def _stack_lanes(sop: Sop, nodes: list[Node], top: float, task_h: float) -> list[dict]:
    lanes, y = [], POOL_Y
    for name in sop.lanes:
        content = [_bottom_extent(n, task_h) for n in nodes if n.lane == name]
        height = max(top + max(content) + 22, 110) if content else 100
        lanes.append({"name": name, "y": y, "h": height, "row": y + top})
        y += height
    return lanes


def _side_extents(n: Node) -> tuple[float, float]:
    """How far a node's labels and SLA decorations stick out left and right of its shape."""
    if n.kind == "task" and n.step.waktu:
        _, timer_label, _, end_label = sla_geometry(Node("t", "task", "", step=n.step, w=n.w, h=n.h))
        return max(0.0, -timer_label[0]), max(0.0, end_label[0] + end_label[2] - n.w)
    if n.kind in ("start", "end", "decision"):
        half = max(0.0, (label_size(n.name)[0] - n.w) / 2)
        return half, half
    return 0.0, 0.0


def _place_columns(nodes: list[Node], rows: dict, task_h: float) -> float:
    """One node per column, left to right in step order; returns the right end of the content."""
    x = POOL_X + 2 * LABEL_BAND + 40
    for n in nodes:
        left, right = _side_extents(n)
        n.x = x + left
        n.y = rows[n.lane] + task_h / 2 - n.h / 2
        n.gap_before = x - GAP / 2  # middle of the gap in front of this column
        x = n.x + n.w + right + GAP
    return x - GAP


def _place_label(n: Node) -> None:
    if n.kind in ("start", "end"):
        lw, lh = label_size(n.name)
        n.label = (n.cx - lw / 2, n.y + n.h + 7, lw, lh)
    elif n.kind == "decision":
        lw, lh = label_size(n.name)
        ly = n.y - 5 - lh if n.label_pos == "above" else n.y + n.h + 5
        n.label = (n.cx - lw / 2, ly, lw, lh)


def _route(f: Flow, s: Node, t: Node, target_lane_y: float, up: bool) -> None:
    """Orthogonal waypoints (and the Ya/Tidak label) of one sequence flow."""
    if f.kind == "back":  # out of the gateway's top/bottom, along the top of the target lane, down into it
        band = target_lane_y + BAND
        sy = s.y if up else s.y + s.h
        f.waypoints = [(s.cx, sy), (s.cx, band), (t.cx, band), (t.cx, t.y)]
        lw, lh = label_size(f.name)
        f.label = (s.cx + 6, (sy - 4 - lh) if up else sy + 4, lw, lh)
        return
    if s.lane == t.lane:
        f.waypoints = [(s.x + s.w, s.cy), (t.x, t.cy)]
    else:
        f.waypoints = [(s.x + s.w, s.cy), (t.gap_before, s.cy), (t.gap_before, t.cy), (t.x, t.cy)]
    if f.name:
        lw, lh = label_size(f.name)
        f.label = (s.x + s.w + 6, s.cy - 4 - lh, lw, lh)


def layout(sop: Sop, nodes: list[Node], flows: list[Flow]):
    """Set shape bounds, labels and waypoints; return the pool and lane boxes."""
    top = 52 if any(n.kind == "decision" for n in nodes) else 30  # room above the task row for jumps and labels
    task_w, task_h = task_size(sop)
    by_id = {n.id: n for n in nodes}
    for n in nodes:
        _size(n, task_w, task_h)
    up = _jumps_up(sop, by_id, flows)
    for n in nodes:
        if n.kind == "decision":
            n.label_pos = "below" if up.get(n.id) else "above"
    lanes = _stack_lanes(sop, nodes, top, task_h)
    right = _place_columns(nodes, {ln["name"]: ln["row"] for ln in lanes}, task_h)
    pool = {"x": POOL_X, "y": POOL_Y, "w": right + 50 - POOL_X, "h": lanes[-1]["y"] + lanes[-1]["h"] - POOL_Y}
    for n in nodes:
        _place_label(n)
    lane_y = {ln["name"]: ln["y"] for ln in lanes}
    for f in flows:
        s, t = by_id[f.source], by_id[f.target]
        _route(f, s, t, lane_y[t.lane], up.get(s.id, False))
    return pool, lanes


# ---------------------------------------------------------------------------------------------------------------
# XML
# ---------------------------------------------------------------------------------------------------------------


def sub(parent, tag, text=None, **attrs):
    el = etree.SubElement(parent, q(tag))
    for k, v in attrs.items():
        el.set(q(k.replace("__", ":")) if "__" in k else k, v)
    if text is not None:
        el.text = text
    return el


def properties(parent, pairs):
    ext = sub(parent, "bpmn:extensionElements")
    props = sub(ext, "camunda:properties")
    for name, value in pairs:
        if value is not None:
            sub(props, "camunda:property", name=name, value=value)
    return ext


def fmt(v: float) -> str:
    return str(int(round(v)))


def bounds(parent, x, y, w, h):
    sub(parent, "dc:Bounds", x=fmt(x), y=fmt(y), width=fmt(w), height=fmt(h))


def process_documentation(sop: Sop) -> str:
    h, ht = sop.header, sop.header_text
    lines = [sop.name, ""]
    lines.append(f"Kantor: {ht['kementerian']}")
    if sop.kantor:
        lines.append(f"Kode kantor: {sop.kantor} ({sop.kantor_nama}; zona waktu {sop.zona_waktu})")
    else:
        lines.append(f"Kode kantor: - (templat; zona waktu bawaan {sop.zona_waktu})")
    for key, label in HEADER_LABELS:
        value = h.get(key)
        if key.startswith("tanggal_"):
            value = ht[key]
        if key == "disahkan_oleh" and ht.get("disahkan_note"):
            value = f"{value} ({ht['disahkan_note']})"
        if key == "peringatan" and ht.get("peringatan_note") and value:
            value = f"{value} [{ht['peringatan_note']}]"
        if value is None:
            value = "-"
        lines.append(f"{label}:\n{value}" if "\n" in value else f"{label}: {value}")
    if ht.get("rusak"):
        lines += ["", ht["rusak"]]
    lines += ["", "Catatan pembacaan (Alur):"] + [f"- {n}" for n in sop.notes]
    lines += ["", "Perbaikan ejaan:"] + ([f"- {t}" for t in sop.typo_fixes] or ["- (tidak ada)"])
    lines += ["", "Sumber: lembar SOP resmi (teks hasil ekstraksi) dan pembacaan di DOMAIN.md §4. "
              "Dibuat dengan bpmn/_generate.py; konvensi: bpmn/README.md."]
    return "\n".join(lines)


def _sla_ids(n: Node) -> tuple[str, str, str]:
    return f"SLA_{n.id}", f"SLA_Terlampaui_{n.id}", f"Flow_SLA_{n.id}"


def _has_sla(n: Node) -> bool:
    return n.kind == "task" and bool(n.step.waktu)


def _lane_set(proc, sop: Sop, nodes: list[Node]) -> None:
    """Lanes in column order; SLA timers and breach ends go with their task's lane."""
    members: dict[str, list[str]] = {name: [] for name in sop.lanes}
    for n in nodes:
        members[n.lane].append(n.id)
        if _has_sla(n):
            members[n.lane] += list(_sla_ids(n)[:2])
    lane_set = sub(proc, "bpmn:laneSet", id=f"LaneSet_{sop.key}")
    for name in sop.lanes:
        lane = sub(lane_set, "bpmn:lane", id=lane_id(name), name=name)
        for ref in members[name]:
            sub(lane, "bpmn:flowNodeRef", ref)


def _user_task(proc, n: Node):
    s = n.step
    el = sub(proc, "bpmn:userTask", id=n.id, name=n.name)
    sub(el, "bpmn:documentation", s.text)
    properties(el, [("kelengkapan", s.kelengkapan), ("output", s.output), ("waktu", s.waktu),
                    ("keterangan", s.keterangan)])
    return el


def _sla_elements(proc, n: Node) -> None:
    """The non-interrupting boundary timer and the escalation end event it flows to."""
    sla_id, end_id, flow_id = _sla_ids(n)
    be = sub(proc, "bpmn:boundaryEvent", id=sla_id, name=f"Waktu baku {n.step.waktu}", cancelActivity="false",
             attachedToRef=n.id)
    sub(be, "bpmn:outgoing", flow_id)
    ted = sub(be, "bpmn:timerEventDefinition", id=f"TimerEventDefinition_{n.id}")
    sub(ted, "bpmn:timeDuration", iso_duration(n.step.waktu), xsi__type="bpmn:tFormalExpression")
    ee = sub(proc, "bpmn:endEvent", id=end_id, name="SLA terlampaui")
    sub(ee, "bpmn:incoming", flow_id)
    sub(ee, "bpmn:escalationEventDefinition", id=f"EscalationEventDefinition_{n.id}", escalationRef="Escalation_SLA")


def _flow_node(proc, n: Node, flows: list[Flow]) -> None:
    if n.kind == "task":
        el = _user_task(proc, n)
    else:
        tag = {"start": "bpmn:startEvent", "end": "bpmn:endEvent"}.get(n.kind, "bpmn:exclusiveGateway")
        el = sub(proc, tag, id=n.id, **({"name": n.name} if n.name else {}))
    for f in flows:
        if f.target == n.id:
            sub(el, "bpmn:incoming", f.id)
    for f in flows:
        if f.source == n.id:
            sub(el, "bpmn:outgoing", f.id)
    if _has_sla(n):
        _sla_elements(proc, n)


def _process(defs, sop: Sop, nodes: list[Node], flows: list[Flow]) -> None:
    proc = sub(defs, "bpmn:process", id=sop.key, name=sop.name, isExecutable="true")
    sub(proc, "bpmn:documentation", process_documentation(sop))
    properties(proc, [(k, sop.header.get(k)) for k, _ in HEADER_LABELS]
               + [("kantor", sop.kantor), ("kantor_nama", sop.kantor_nama), ("zona_waktu", sop.zona_waktu)])
    _lane_set(proc, sop, nodes)
    for n in nodes:
        _flow_node(proc, n, flows)
    for f in flows:
        el = sub(proc, "bpmn:sequenceFlow", id=f.id, **({"name": f.name} if f.name else {}), sourceRef=f.source,
                 targetRef=f.target)
        if f.condition:
            sub(el, "bpmn:conditionExpression", f.condition, xsi__type="bpmn:tFormalExpression")
    for n in filter(_has_sla, nodes):
        sla_id, end_id, flow_id = _sla_ids(n)
        sub(proc, "bpmn:sequenceFlow", id=flow_id, sourceRef=sla_id, targetRef=end_id)


def _shape(plane, element_id, box, label=None, **attrs):
    shape = sub(plane, "bpmndi:BPMNShape", id=f"{element_id}_di", bpmnElement=element_id, **attrs)
    bounds(shape, *box)
    if label:
        bounds(sub(shape, "bpmndi:BPMNLabel"), *label)


def _edge(plane, flow_id, waypoints, label=None):
    edge = sub(plane, "bpmndi:BPMNEdge", id=f"{flow_id}_di", bpmnElement=flow_id)
    for x, y in waypoints:
        sub(edge, "di:waypoint", x=fmt(x), y=fmt(y))
    if label:
        bounds(sub(edge, "bpmndi:BPMNLabel"), *label)


def _diagram(defs, sop: Sop, nodes, flows, pool, lanes) -> None:
    diagram = sub(defs, "bpmndi:BPMNDiagram", id=f"BPMNDiagram_{sop.key}")
    plane = sub(diagram, "bpmndi:BPMNPlane", id=f"BPMNPlane_{sop.key}", bpmnElement=f"Collaboration_{sop.key}")
    _shape(plane, f"Participant_{sop.key}", (pool["x"], pool["y"], pool["w"], pool["h"]), isHorizontal="true")
    for ln in lanes:
        box = (pool["x"] + LABEL_BAND, ln["y"], pool["w"] - LABEL_BAND, ln["h"])
        _shape(plane, lane_id(ln["name"]), box, isHorizontal="true")
    for n in nodes:
        marker = {"isMarkerVisible": "true"} if n.kind in ("decision", "merge") else {}
        _shape(plane, n.id, (n.x, n.y, n.w, n.h), n.label, **marker)
        if _has_sla(n):
            (bx, by), timer_label, (ex, ey), end_label = sla_geometry(n)
            sla_id, end_id, _ = _sla_ids(n)
            _shape(plane, sla_id, (bx, by, EVENT, EVENT), timer_label)
            _shape(plane, end_id, (ex, ey, EVENT, EVENT), end_label)
    for f in flows:
        _edge(plane, f.id, f.waypoints, f.label)
    for n in filter(_has_sla, nodes):
        (bx, by), _, (ex, ey), _ = sla_geometry(n)
        cx = bx + EVENT / 2
        _edge(plane, _sla_ids(n)[2], [(cx, by + EVENT), (cx, ey + EVENT / 2), (ex, ey + EVENT / 2)])


def build(sop: Sop) -> bytes:
    """The complete .bpmn document for one SOP."""
    nodes, flows = build_graph(sop)
    pool, lanes = layout(sop, nodes, flows)
    defs = etree.Element(q("bpmn:definitions"), nsmap=NS)
    defs.set("id", f"Definitions_{sop.key}")
    defs.set("targetNamespace", "http://bpmn.io/schema/bpmn")
    defs.set("exporter", "Alur bpmn/_generate.py")
    defs.set("exporterVersion", "1")
    defs.set(q("modeler:executionPlatform"), "Camunda Platform")
    defs.set(q("modeler:executionPlatformVersion"), "7.22.0")
    collab = sub(defs, "bpmn:collaboration", id=f"Collaboration_{sop.key}")
    sub(collab, "bpmn:participant", id=f"Participant_{sop.key}", name=sop.name, processRef=sop.key)
    _process(defs, sop, nodes, flows)
    sub(defs, "bpmn:escalation", id="Escalation_SLA", name="SLA terlampaui", escalationCode="sla_breached")
    _diagram(defs, sop, nodes, flows, pool, lanes)
    etree.indent(defs, space="  ")
    body = etree.tostring(defs, encoding="UTF-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body + b"\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare with the files on disk")
    args = parser.parse_args(argv)
    stale = []
    for sop in SOPS:
        path = HERE / f"{sop.key}.bpmn"
        data = build(sop)
        if args.check:
            if not path.exists() or path.read_bytes() != data:
                stale.append(path.name)
        else:
            path.write_bytes(data)
            print(f"wrote {path.relative_to(HERE.parent)}")
    if stale:
        print("differs from the tables: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
