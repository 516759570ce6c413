/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * PMEVCNTR<n>_EL0 and PMEVTYPER<n>_EL0 by run-time number (sysregs.rs): four tables of 31
 * entries, each entry the one MRS or MSR of register n with Rt = x0, then RET. A caller enters
 * entry n with BLR (8 bytes an entry). The encodings come from the formula: op0 3, op1 3, CRn 14,
 * CRm = 8 + n / 8 for a counter and 12 + n / 8 for a type, op2 = n % 8.
 *
 * One copy each, out of line: inlined at every access, as before, the tables cost some 9 KB of
 * text, and entering them with BLR/RET costs no more instructions than BR/B did.
 */

.macro pmu_event_table name, insn, crm
	.balign 8
	.global \name
\name:
	.set .Lpmu_n, 0
	.rept 31
	.inst \insn | (14 << 12) | ((\crm + .Lpmu_n / 8) << 8) | ((.Lpmu_n % 8) << 5)
	ret
	.set .Lpmu_n, .Lpmu_n + 1
	.endr
	.size \name, . - \name
.endm

/* Three fit in the space before the vectors (image.ld); the fourth follows them. */
.section .text.el2_asm, "ax"
pmu_event_table pmu_read_pmevcntr_table, 0xd53b0000, 8
pmu_event_table pmu_read_pmevtyper_table, 0xd53b0000, 12
pmu_event_table pmu_write_pmevcntr_table, 0xd51b0000, 8
.section .text.pmu_write_pmevtyper_table, "ax"
pmu_event_table pmu_write_pmevtyper_table, 0xd51b0000, 12
	.text
