"""Writes math_prose_cases.jsonl: realistic endings of model solutions, labelled by hand.

Each ending below was written by hand in the style of GPT-4-class chat answers (prose, few boxes,
"Therefore, ..." endings, equation chains, align blocks) or of R1-class reasoning answers (a
<think> block, then a summary, often "**Final Answer**"). `{A}` is where the model states its
final answer. Every ending gives two cases, labelled when written, before any grader ran:

- `right`: the model's final answer is equivalent to the gold (expected true);
- `wrong`: a near miss a careless reader or a greedy extractor could take for right (expected
  false), often with the gold value itself earlier in the reasoning.

A few endings give no answer at all (`right` is None): one case, expected false. Endings that
hedge between several boxes are expected false in both variants (the anti-farming rule).

Run: python3 tests/data/math_prose_cases.py  (rewrites the JSONL next to it)
"""

import json
import os

# (style, class, text, gold, right, wrong[, whether `right` is expected correct: True unless said])
ENDINGS = [
    # --- anchored: "the answer is", "final answer" -------------------------------------------
    ("gpt4", "anchor", "We add the two cases: $12 + 8 = 20$. Therefore, the answer is {A}.", "20", "20", "12"),
    ("gpt4", "anchor", "Combining like terms gives $3x = 21$, so $x = 7$.\n\nThe answer is $x = {A}$.", "7", "7", "21"),
    ("gpt4", "anchor_eq", "The final answer is: 3^105 + 4^105 mod 7 = {A}", "0", "0", "3"),
    ("gpt4", "anchor_eq", "Using Fermat's little theorem, $2^{6} \\equiv 1 \\pmod 7$. The final answer is: 2^100 mod 7 = {A}", "2", "2", "1"),
    ("gpt4", "anchor", "So the final answer is $\\frac{{A}}{8}$.", "\\frac{3}{8}", "3", "5"),
    ("gpt4", "anchor", "Final answer: {A}", "144", "144", "12"),
    ("gpt4", "anchor", "**Final Answer:** The probability is $\\frac{1}{{A}}$.", "\\frac{1}{6}", "6", "36"),
    ("gpt4", "anchor", "The final answer is $\\dfrac{{A}}{2}$. I hope it is correct.", "\\frac{\\sqrt{3}}{2}", "\\sqrt{3}", "\\sqrt{2}"),
    ("gpt4", "anchor", "Thus, the answer is: {A} dollars.", "45", "45", "54"),
    ("gpt4", "anchor", "Answer: $({A}, 5)$", "(6,5)", "6", "5"),
    ("gpt4", "anchor", "#### {A}", "72", "72", "27"),
    ("gpt4", "anchor_when", "The answer is {A}, which is attained when $x = 2$ and $y = 3$.", "12", "12", "13"),
    ("gpt4", "anchor_eq", "Hence the answer is $f(2) = 4 + 4 + 1 = {A}$.", "9", "9", "8"),
    ("gpt4", "anchor", "The answer is $\\boxed{{A}}$.", "34", "34", "43"),
    ("gpt4", "anchor", "Therefore, the final answer is $\\mathbf{{A}}$.", "11", "11", "10"),
    ("gpt4", "anchor_eq", "So the answer is $\\binom{6}{2} = {A}$.", "15", "15", "30"),
    # --- "is X" beats a trailing when/where/which clause --------------------------------------
    ("gpt4", "is_when", "By AM-GM, $a + b + c \\ge 3\\sqrt[3]{abc}$. So the minimum is {A}, and this is achieved when \\(a=b=c\\).", "8", "8", "6"),
    ("gpt4", "is_when", "Therefore, the maximum value of the expression is ${A}$, which occurs when $x = \\frac{\\pi}{4}$.", "\\sqrt{2}", "\\sqrt{2}", "2"),
    ("gpt4", "is_when", "The smallest possible value is {A}, where $n = 3$.", "27", "27", "3"),
    ("gpt4", "is_when", "So the largest such $n$ is {A}, since $n = 24$ fails the condition.", "23", "23", "24"),
    ("gpt4", "is_when", "Thus the minimum value of $f$ is $-{A}$ when $x = 1$.", "-4", "4", "3"),
    ("gpt4", "is_when", "Hence the area is ${A}$ square units, where the base is $6$ and the height is $8$.", "24", "24", "48"),
    ("gpt4", "is_when", "The greatest common divisor is {A} because both numbers are multiples of $6$ and $4$.", "12", "12", "6"),
    ("gpt4", "is_when", "So the value of $k$ is ${A}$, for which the line is tangent to the circle at $(3, 4)$.", "-\\frac{3}{4}", "-\\frac{3}{4}", "\\frac{4}{3}"),
    ("r1", "is_when", "<think>\nLet me check n=5: 5^2=25, ok. n=6 fails.\n</think>\n\nThe largest integer is {A}, which satisfies all three conditions.", "5", "5", "6"),
    ("gpt4", "is_when", "The number of solutions is {A}, as each of the $3$ cases contributes two.", "6", "6", "3"),
    # --- the number the sentence is about -----------------------------------------------------
    ("gpt4", "subject", "There are {A} terms in the expansion of $(x+y+z)^{1999}$.", "2001000", "2,001,000", "1999"),
    ("gpt4", "subject", "So there are {A} ways to arrange the $5$ books on the shelf.", "120", "120", "5"),
    ("gpt4", "subject", "Therefore, it will take {A} hours for $3$ pumps to fill the tank.", "4", "4", "3"),
    ("gpt4", "subject", "Thus, Janet makes ${A} every day at the farmers' market.", "18", "18", "16"),
    ("gpt4", "subject", "In total, {A} students take both math and science out of the 40 in the class.", "7", "7", "40"),
    ("gpt4", "subject", "So there are {A} positive divisors of 360.", "24", "24", "360"),
    ("gpt4", "subject", "Hence, the tank holds {A} liters when it is 3/4 full.", "90", "90", "120"),
    ("gpt4", "subject", "Therefore, {A} of the first 100 positive integers are divisible by 3, 4 or 5.", "60", "60", "100"),
    ("r1", "subject", "<think>\nSo 7 choose 3 is 35, times 2 is 70.\n</think>\n\nThere are **{A}** possible committees of 3 people from the 7 candidates.", "70", "70", "35"),
    ("gpt4", "subject", "The train needs {A} minutes to cross the 300 m bridge.", "2", "2", "300"),
    # --- equation chains: the right side of the last '=' --------------------------------------
    ("gpt4", "chain", "So $f(3) = 2 \\cdot 3^2 + 1 = {A}$.", "19", "19", "18"),
    ("gpt4", "chain", "Therefore, $x = \\frac{-b}{2a} = \\frac{6}{4} = {A}$.", "\\frac{3}{2}", "\\frac{3}{2}", "\\frac{2}{3}"),
    ("gpt4", "chain", "The total is $3 + 4 + 5 = {A}$ apples.", "12", "12", "13"),
    ("gpt4", "chain", "Adding up: 15 + 27 + 8 = {A}.", "50", "50", "49"),
    ("gpt4", "chain", "So the sum of the roots is $-\\frac{b}{a} = -\\frac{-10}{2} = {A}$.", "5", "5", "-5"),
    ("gpt4", "chain", "Finally, $P = \\frac{4}{52} \\cdot \\frac{3}{51} = {A}$.", "\\frac{1}{221}", "\\frac{1}{221}", "\\frac{1}{169}"),
    ("gpt4", "chain", "$$\\text{Area} = \\frac{1}{2} \\cdot 10 \\cdot 6 = {A}$$", "30", "30", "60"),
    ("gpt4", "chain", "Plugging in, we get $S_{10} = \\frac{10}{2}(2 + 20) = {A}$.", "110", "110", "22"),
    ("r1", "chain", "<think>\n12 * 12 = 144, minus 4*4 = 16... 128.\n</think>\n\nThe shaded area is $12^2 - 4^2 = {A}$ square units.", "128", "128", "144"),
    ("gpt4", "chain", "The remainder is $2^{10} \\bmod 7 = 1024 \\bmod 7 = {A}$.", "2", "2", "1"),
    # --- align blocks ------------------------------------------------------------------------
    ("gpt4", "align", "\\begin{align*}\nS &= \\sum_{k=1}^{\\infty} \\frac{1}{2^{k+1}} \\\\\n&= \\frac{1}{4} \\cdot \\frac{1}{1 - \\frac12} \\\\\n&= \\frac{{A}}{2}.\n\\end{align*}", "\\frac12", "1", "3"),
    ("gpt4", "align", "We compute\n\\begin{align*}\n(1+i)^8 &= ((1+i)^2)^4 \\\\\n&= (2i)^4 \\\\\n&= {A}.\n\\end{align*}", "16", "16", "-16"),
    ("gpt4", "align", "\\begin{aligned}\nV &= \\pi r^2 h \\\\\n&= \\pi (3)^2 (4) \\\\\n&= {A}\\pi\n\\end{aligned}\nSo the volume is as above.", "36\\pi", "36", "12"),
    ("gpt4", "align", "Thus\n$$\\begin{aligned} x^2 - 5x + 6 &= 0 \\\\ (x-2)(x-3) &= 0 \\end{aligned}$$\nand the larger root is ${A}$.", "3", "3", "2"),
    ("gpt4", "align", "\\[\n\\begin{aligned}\n\\log_2 64 - \\log_2 8 &= 6 - 3 \\\\\n&= {A}.\n\\end{aligned}\n\\]", "3", "3", "9"),
    # --- concluding connectives: Therefore / Thus / So / Hence -------------------------------
    ("gpt4", "conclusion", "Therefore, the probability is \\(\\frac{{A}}{36}\\).", "\\frac{1}{6}", "6", "5"),
    ("gpt4", "conclusion", "Thus, the value of $x$ is ${A}$.", "-2", "-2", "2"),
    ("gpt4", "conclusion", "So, the sum of all possible values of $n$ is ${A}$.", "21", "21", "20"),
    ("gpt4", "conclusion", "Hence, the remainder when $2^{100}$ is divided by 7 is {A}.", "2", "2", "7"),
    ("gpt4", "conclusion", "In conclusion, the perimeter of the triangle is ${A}$ cm.", "36", "36", "30"),
    ("gpt4", "conclusion", "Therefore, $a + b = {A}$.", "17", "17", "71"),
    ("gpt4", "conclusion", "So, the slope of the line is $-\\frac{{A}}{3}$.", "-\\frac{2}{3}", "2", "3"),
    ("gpt4", "conclusion", "Thus the distance between the points is $\\sqrt{{A}}$.", "5\\sqrt{2}", "50", "52"),
    ("gpt4", "conclusion", "So, the number we are looking for is {A}.", "142857", "142857", "142587"),
    ("gpt4", "conclusion", "The least common multiple of 12, 18 and 30 is therefore {A}.", "180", "180", "360"),
    ("gpt4", "conclusion", "Therefore, the solution set is $x \\in ({A}, 5)$.", "(-1, 5)", "-1", "1"),
    ("gpt4", "conclusion", "So the ordered pair is $({A}, -3)$.", "(2,-3)", "2", "-2"),
    ("gpt4", "conclusion", "Therefore, the solutions are $x = 2$ and $x = {A}$.", "2, -5", "-5", "5"),
    ("gpt4", "conclusion", "Hence the roots are $x = {A}$ and $x = -1$.", "\\{3, -1\\}", "3", "1"),
    ("gpt4", "conclusion", "Thus, $\\angle ABC = {A}^\\circ$.", "40", "40", "50"),
    ("gpt4", "conclusion", "So the expected value is $\\frac{{A}}{2}$.", "\\frac{7}{2}", "7", "5"),
    ("gpt4", "conclusion", "So, the price of one pencil is ${A}$ cents.", "15", "15", "25"),
    ("gpt4", "conclusion", "Thus, there were {A} people at the party.", "28", "28", "27"),
    ("gpt4", "conclusion", "Therefore the answer to the problem is that she needs {A} more stamps.", "13", "13", "31"),
    ("gpt4", "conclusion", "So $\\lfloor \\sqrt{50} \\rfloor = {A}$.", "7", "7", "8"),
    # --- approximations: the exact side --------------------------------------------------------
    ("gpt4", "approx", "So the probability is $\\frac{{A}}{14} \\approx 0.357$.", "\\frac{5}{14}", "5", "6"),
    ("gpt4", "approx", "Therefore, $x = \\sqrt{{A}} \\approx 3.61$.", "\\sqrt{13}", "13", "12"),
    ("gpt4", "approx", "The answer is $\\frac{{A}}{3}\\pi \\approx 33.51$ cubic units.", "\\frac{32\\pi}{3}", "32", "16"),
    # --- tuples and assignments -------------------------------------------------------------
    ("gpt4", "tuple", "So the solution of the system is $x = {A}$, $y = 5$.", "(6, 5)", "6", "5"),
    ("gpt4", "tuple", "Therefore, $x = {A}$ and $y = -1$.", "(4,-1)", "4", "-4"),
    ("gpt4", "tuple", "Hence $x = y = {A}$ is the only solution.", "(0,0)", "0", "1"),
    ("gpt4", "tuple", "The final answer is $(a, b) = ({A}, 7)$.", "(3, 7)", "3", "7"),
    # --- sets, intervals, expressions -------------------------------------------------------
    ("gpt4", "structure", "Therefore, the domain is $[{A}, \\infty)$.", "[2,\\infty)", "2", "-2"),
    ("gpt4", "structure", "Thus the solutions are $\\{1, 2\\} \\cup \\{{A}\\}$.", "\\{1,2,3\\}", "3", "4"),
    ("gpt4", "structure", "So the simplified expression is ${A}x^2 - 4x + 1$.", "3x^2-4x+1", "3", "4"),
    ("gpt4", "structure", "Hence the closed form is $n(n+1)2^{{A}}$.", "n(n+1)2^{n-2}", "n-2", "n-1"),
    ("gpt4", "structure", "The number of such arrangements is $\\frac{10!}{{A}!\\,5!}$.", "252", "5", "4"),
    ("gpt4", "structure", "So the coefficient is $\\binom{4}{2}{A}!$.", "36", "3", "2"),
    ("gpt4", "structure", "So the decimal expansion is $0.\\overline{{A}}$.", "\\frac{2}{3}", "6", "3"),
    ("gpt4", "structure", "Therefore, the total number of terms is $2\\,001\\,{A}$.", "2001000", "000", "001"),
    ("gpt4", "structure", "So the inverse function is $f^{-1}(x) = \\frac{x - {A}}{2}$.", "\\frac{x-3}{2}", "3", "2"),
    ("gpt4", "structure", "Therefore, the equation of the line is $y = {A}x + 1$.", "y=2x+1", "2", "-2"),
    ("gpt4", "structure", "Hence, $k \\in ({A}, 4)$.", "(-4,4)", "-4", "4"),
    # --- R1-style with summary and boxes ---------------------------------------------------------
    ("r1", "box", "<think>\nOkay, so 3*4=12, then 12+5=17. Wait, is it 17? Let me recount... yes.\n</think>\n\nThe total is 17.\n\n**Final Answer**\n\\boxed{{A}}", "17", "17", "12"),
    ("r1", "box", "<think>\nHmm, maybe the answer is 8? No, 8 double counts. 7.\n</think>\n\nAfter removing the double-counted case, we get 7.\n\n\\[\n\\boxed{{A}}\n\\]", "7", "7", "8"),
    ("r1", "box", "<think>\nsum is 55... or 45 if we exclude 10.\n</think>\n\n### Final Answer\nThe sum is $\\boxed{{A}}$.", "45", "45", "55"),
    ("r1", "box", "<think>\nthe probability: 3/10\n</think>\n\n**Answer:** $\\boxed{\\dfrac{{A}}{10}}$", "\\frac{3}{10}", "3", "7"),
    ("r1", "box", "<think>\nx^2 = 49 so x = 7 or -7, positive so 7\n</think>\n\nSince $x$ must be positive, $x = \\boxed{{A}}$.", "7", "7", "-7"),
    ("r1", "box", "<think>\n...\n</think>\n\nThe number of subsets is $2^{10} - 1 = \\boxed{{A}}$.", "1023", "1023", "1024"),
    ("r1", "box", "<think>\nThe gold might be 16. Let me verify: 2^4 = 16. Yes.\n</think>\n\n**Final Answer**\n\\[ \\boxed{{A}} \\]", "16", "16", "8"),
    ("gpt4", "box", "So the final answer is $\\boxed{x = {A}}$.", "5", "5", "-5"),
    ("gpt4", "box", "Therefore, the answer is $\\boxed{\\frac{{A}}{14} \\approx 0.357}$.", "\\frac{5}{14}", "5", "4"),
    ("gpt4", "box", "Thus, \\boxed{x={A}, y=5}.", "(6,5)", "6", "4"),
    # --- R1-style without box --------------------------------------------------------------------
    ("r1", "r1_prose", "<think>\nSo total = 20 + 15 = 35.\n</think>\n\nThe bakery sold 35 cupcakes in total.\n\nSo the answer is {A}.", "35", "35", "20"),
    ("r1", "r1_prose", "<think>\nEach side is 6, area is 36... wait perimeter is 24.\n</think>\n\n**Solution.** The square has side $6$, so its perimeter is ${A}$.", "24", "24", "36"),
    ("r1", "r1_prose", "<think>\nLet me compute 17*23 = 391.\n</think>\n\nMultiplying, $17 \\times 23 = {A}$.", "391", "391", "381"),
    ("r1", "r1_prose", "<think>\nremainder of 100 divided by 7: 7*14=98, remainder 2.\n</think>\n\nThe remainder is **{A}**.", "2", "2", "14"),
    ("r1", "r1_prose", "<think>\nOK.\n</think>\n\nThe value of $\\frac{a}{b}$ is $\\frac{{A}}{4}$.\n\nI'm confident in this answer.", "\\frac{3}{4}", "3", "1"),
    ("r1", "r1_prose", "<think>\nx = 12? check 12*3 = 36 yes\n</think>\n\n**Answer**: $x = {A}$\n\nLet me know if you have any questions!", "12", "12", "36"),
    ("r1", "r1_prose", "<think>\nC(8,2) = 28 handshakes.\n</think>\n\nEach pair shakes hands once, so there are $\\binom{8}{2} = {A}$ handshakes in total. Hope this helps!", "28", "28", "56"),
    ("r1", "r1_prose", "<think>\nthe speed is 60 km/h\n</think>\n\nSo the car's average speed was {A} km/h over the 3-hour trip.", "60", "60", "180"),
    # --- trailing remarks after the answer -------------------------------------------------------
    ("gpt4", "trailing", "So the answer is {A}.\n\nNote: we assumed that the 2 dice are fair and 6-sided.", "11", "11", "12"),
    ("gpt4", "trailing", "Therefore, the sum is ${A}$. Let me know if you need further clarification on any of the 3 steps!", "210", "210", "3"),
    ("gpt4", "trailing", "Thus the minimum number of moves is {A}. (We can verify this by checking all 4 corners.)", "9", "9", "4"),
    ("gpt4", "trailing", "Hence $n = {A}$.\n\n---\n*Step 5 double-checks the answer with $n = 2$.*", "14", "14", "2"),
    # --- reasoning that mentions the gold but ends elsewhere ---------------------------------------
    ("gpt4", "changed_mind", "At first it looks like the answer is 12, but we counted the corner twice. Removing it, the answer is {A}.", "11", "11", "13"),
    ("gpt4", "changed_mind", "One might guess $x = 4$. However, substituting back shows $x = 4$ fails, so $x = {A}$.", "-4", "-4", "4"),
    ("r1", "changed_mind", "<think>\nIs it 30? Hmm, 30 includes the empty set. So 29? No wait...\n</think>\n\nExcluding the empty arrangement, the count is {A}.", "29", "29", "30"),
    ("gpt4", "changed_mind", "Earlier we found 3 solutions, but one of them is extraneous. So the equation has {A} real solutions.", "2", "2", "3"),
    # --- money, percent, units ---------------------------------------------------------------------
    ("gpt4", "units", "Therefore, the total cost is $\\${A}$.", "1250", "1,250", "1,205"),
    ("gpt4", "units", "So she saved {A}\\% on the jacket.", "25", "25", "75"),
    ("gpt4", "units", "The answer is {A} percent.", "40", "40", "60"),
    ("gpt4", "units", "Thus the area of the garden is ${A} \\text{ m}^2$.", "96", "96", "40"),
    ("gpt4", "units", "So the tank holds ${A}$ gallons.", "1500", "1\\,500", "1\\,050"),
    ("gpt4", "units", "Hence, the interest earned after 2 years is $\\${A}$.", "210", "210.00", "200.00"),
    # --- bare final line ---------------------------------------------------------------------------
    ("gpt4", "bare", "Let $n$ be the number of coins. Then $5n + 10(20 - n) = 135$, so $n = 13$.\n\n${A}$", "13", "13", "7"),
    ("gpt4", "bare", "We conclude with\n\\[ \\frac{{A}}{5} \\]", "\\frac{2}{5}", "2", "3"),
    ("gpt4", "bare", "The required value:\n\n{A}", "64", "64", "46"),
    # --- no answer given ---------------------------------------------------------------------------
    ("gpt4", "no_answer", "I'm sorry, but I can't determine the answer without more information about the triangle's 3 sides.", "12", None, None),
    ("r1", "no_answer", "<think>\nLet me think about 12 and 15... the lcm would be", "60", None, None),
    ("gpt4", "no_answer", "This problem cannot be solved with the given information.", "5", None, None),
    # --- mixed numbers, decimals, fractions in prose ---------------------------------------------
    ("gpt4", "numbers", "So each friend gets {A} pizzas.", "\\frac{9}{4}", "2 1/4", "2 3/4"),
    ("gpt4", "numbers", "Therefore, the average is {A}.", "7.5", "7.5", "7.25"),
    ("gpt4", "numbers", "So, the repeating decimal $0.1\\overline{{A}}$ equals a fraction.", "\\frac{1}{6}", "6", "3"),
    ("gpt4", "numbers", "The answer is 0.{A}.", "\\frac{3}{8}", "375", "38"),
    ("gpt4", "numbers", "So $x = -{A}$.", "-\\frac{1}{2}", "\\frac{1}{2}", "2"),
    # --- multiple boxes (anti-farming) ------------------------------------------------------------
    # Hedging between boxes is not an answer, even when one of them is the gold.
    ("gpt4", "farming", "It could be $\\boxed{3}$ or $\\boxed{{A}}$.", "5", "5", "4", False),
    ("gpt4", "farming", "Possible answers: \\boxed{1}, \\boxed{2}, \\boxed{{A}}, \\boxed{4}.", "3", "3", "5", False),
    # --- words as answers ---------------------------------------------------------------------------
    ("gpt4", "text", "Therefore, the answer is \\text{{A}}.", "\\text{Tuesday}", "Tuesday", "Monday"),
    ("gpt4", "text", "So the function is {A}.", "\\text{even}", "even", "odd"),
    # --- longer GPT-4 solutions -----------------------------------------------------------------
    ("gpt4", "long", "To solve this, we first find the number of ways to choose 2 red balls from 5: $\\binom{5}{2} = 10$. Then the number of ways to choose 1 blue ball from 3 is $3$. So the number of favorable outcomes is $10 \\times 3 = 30$. The total number of ways to choose 3 balls from 8 is $\\binom{8}{3} = 56$. Therefore, the probability is $\\frac{30}{56} = \\frac{{A}}{28}$.", "\\frac{15}{28}", "15", "13"),
    ("gpt4", "long", "Let the width be $w$. Then the length is $2w + 3$ and the perimeter is $2(w + 2w + 3) = 6w + 6 = 42$, so $w = 6$ and the length is $15$. The area is therefore $6 \\times 15 = {A}$ square meters.", "90", "90", "84"),
    ("gpt4", "long", "We need $n$ such that $n \\equiv 2 \\pmod 3$ and $n \\equiv 3 \\pmod 5$. Checking $n = 8$: $8 = 2\\cdot 3 + 2$ and $8 = 5 + 3$. So the smallest such positive integer is ${A}$.", "8", "8", "23"),
    ("gpt4", "long", "The first term is $a = 3$ and the common ratio is $r = 2$. The sum of the first 6 terms is $S_6 = 3 \\cdot \\frac{2^6 - 1}{2 - 1} = 3 \\cdot 63 = {A}$.", "189", "189", "192"),
    ("gpt4", "long", "Since the triangle is right-angled with legs 9 and 12, the hypotenuse is $\\sqrt{81 + 144} = \\sqrt{225} = {A}$. The answer is {A}.", "15", "15", "14"),
    ("gpt4", "long", "Let's denote the number of adult tickets by $a$ and child tickets by $c$. We have $a + c = 100$ and $8a + 5c = 650$. Multiplying the first equation by 5 gives $5a + 5c = 500$, so $3a = 150$ and $a = {A}$. Therefore, {A} adult tickets were sold.", "50", "50", "60"),
    ("gpt4", "long", "The distance from the point $(1, 2)$ to the line $3x + 4y - 1 = 0$ is $\\frac{|3 + 8 - 1|}{5} = \\frac{10}{5} = {A}$.", "2", "2", "10"),
    ("gpt4", "long", "The digits must sum to a multiple of 9: $1 + 4 + 9 + A + 2 = 16 + A$, so $A = 2$. The number is therefore ${A}$.", "14922", "14922", "14912"),
    ("gpt4", "long", "There are $26^3 \\cdot 10^3 = 17{,}576{,}000$ possible plates. Thus there are {A} license plates.", "17576000", "17,576,000", "17,576"),
    ("gpt4", "long", "The sum of the interior angles of a hexagon is $(6-2) \\times 180^\\circ = 720^\\circ$, so each interior angle of a regular hexagon measures ${A}^\\circ$.", "120", "120", "720"),
    ("gpt4", "long", "We use Vieta's formulas: $r_1 + r_2 = 7$ and $r_1 r_2 = 10$. Then $r_1^2 + r_2^2 = (r_1 + r_2)^2 - 2r_1 r_2 = 49 - 20 = {A}$.", "29", "29", "49"),
    ("gpt4", "long", "The function $f(x) = x^3 - 3x$ has critical points at $x = \\pm 1$. Evaluating, $f(-1) = 2$ and $f(1) = -2$. So the local maximum value is {A}.", "2", "2", "-2"),
    ("gpt4", "long", "We have $\\log_3 81 = 4$ and $\\log_3 9 = 2$, so the expression equals $4 \\cdot 2 - 1 = {A}$.", "7", "7", "8"),
    ("gpt4", "long", "Using the formula for the $n$th term, $a_{20} = 5 + 19 \\cdot 3 = {A}$.", "62", "62", "65"),
    ("gpt4", "long", "The probability that none of the 3 coins shows heads is $\\left(\\frac{1}{2}\\right)^3 = \\frac{1}{8}$, so the probability of at least one head is $1 - \\frac{1}{8} = \\frac{{A}}{8}$.", "\\frac{7}{8}", "7", "1"),
    ("gpt4", "long", "Completing the square, $x^2 - 6x + 13 = (x - 3)^2 + 4$. So the vertex of the parabola is at $({A}, 4)$.", "(3,4)", "3", "-3"),
    ("gpt4", "long", "The units digit of powers of 7 cycles through 7, 9, 3, 1. Since $2023 \\equiv 3 \\pmod 4$, the units digit of $7^{2023}$ is {A}.", "3", "3", "7"),
    ("gpt4", "long", "Each of the 4 people can sit in any of the remaining seats, giving $4! = 24$ arrangements, but rotations are the same, so we divide by 4 to get {A}.", "6", "6", "24"),
    ("gpt4", "long", "After the first discount the price is $80 \\times 0.8 = 64$, and after the second it is $64 \\times 0.9 = {A}$ dollars.", "57.6", "57.60", "57.06"),
    ("gpt4", "long", "Solving $2x + 3 = 11$ gives $x = 4$; then $3x - 2 = {A}$.", "10", "10", "4"),
    ("gpt4", "long", "The midpoint of $(2, 8)$ and $(6, -4)$ is $\\left(\\frac{2+6}{2}, \\frac{8-4}{2}\\right) = ({A}, 2)$.", "(4,2)", "4", "8"),
    # --- R1 longer ----------------------------------------------------------------------------------
    ("r1", "long", "<think>\nAlright, the equation is x^2 - 5x + 6 = 0. Factor: (x-2)(x-3). Roots 2 and 3. Sum is 5. Product is 6. The question asks for the product, so 6.\n</think>\n\nThe quadratic factors as $(x-2)(x-3)$, so its roots are $2$ and $3$, and their product is ${A}$.", "6", "6", "5"),
    ("r1", "long", "<think>\nTotal handshakes among 10 people: 45. But couples don't shake: 5 couples. 40.\n</think>\n\nThere are $\\binom{10}{2} = 45$ pairs in total, minus the $5$ couples, which gives **{A}** handshakes.", "40", "40", "45"),
    ("r1", "long", "<think>\nThe series 1/2 + 1/4 + ... = 1. So answer 1.\n</think>\n\nThe geometric series with first term $\\frac12$ and ratio $\\frac12$ sums to $\\frac{1/2}{1 - 1/2} = {A}$.", "1", "1", "2"),
    ("r1", "long", "<think>\nf(f(2)) = f(5) = 26\n</think>\n\nFirst $f(2) = 2^2 + 1 = 5$, then $f(5) = 5^2 + 1 = {A}$.\n\nSo $f(f(2)) = {A}$.", "26", "26", "25"),
    ("r1", "long", "<think>\n9! / (3!3!3!) = 1680\n</think>\n\nThe number of ways to split 9 people into three labelled groups of 3 is $\\frac{9!}{3!\\,3!\\,3!} = {A}$.", "1680", "1680", "280"),
    ("r1", "long", "<think>\nangles sum 180, so third is 180 - 50 - 60 = 70\n</think>\n\nThe third angle measures $180^\\circ - 50^\\circ - 60^\\circ = {A}^\\circ$.", "70", "70", "60"),
    ("r1", "long", "<think>\nderivative 6x - 4 at x=2 gives 8\n</think>\n\nDifferentiating, $f'(x) = 6x - 4$, so the slope at $x = 2$ is $f'(2) = {A}$.", "8", "8", "12"),
    ("r1", "long", "<think>\nmedian of 3,5,7,9,100 is 7\n</think>\n\nSorted, the list is 3, 5, 7, 9, 100, so the median is {A} (while the mean is 24.8).", "7", "7", "24.8"),
    ("r1", "long", "<think>\nI think it's 2^5 = 32 subsets\n</think>\n\nA set with 5 elements has $2^5 = {A}$ subsets, including the empty set and the set itself.", "32", "32", "31"),
    ("r1", "long", "<think>\nGCD(84, 126) = 42\n</think>\n\nSince $84 = 2 \\cdot 42$ and $126 = 3 \\cdot 42$, the greatest common divisor is ${A}$.", "42", "42", "84"),
    ("r1", "long", "<think>\n3 shirts 4 pants 2 shoes = 24\n</think>\n\nBy the multiplication principle, he can make $3 \\times 4 \\times 2 = {A}$ different outfits.", "24", "24", "9"),
    ("r1", "long", "<think>\nSpeed upstream 8, downstream 12, so current is 2\n</think>\n\nThe speed of the current is half the difference: $\\frac{12 - 8}{2} = {A}$ km/h.", "2", "2", "10"),
]


# Written after the rules of issue 13 were designed against ENDINGS above, and labelled before
# the grader ran on them: a check that the rules hold on endings they were not tuned to.
HOLDOUT = [
    ("gpt4", "h_result", "Multiplying everything out, the result is {A}.", "84", "84", "48"),
    ("gpt4", "h_result", "We find that the integer $n$ must equal {A}.", "19", "19", "91"),
    ("gpt4", "h_result", "Therefore the sought quantity equals $\\frac{{A}}{9}$, which is already in lowest terms.", "\\frac{4}{9}", "4", "5"),
    ("gpt4", "h_therefore", "$\\therefore x = {A}$", "12", "12", "21"),
    ("gpt4", "h_bold", "After simplifying, we get **{A}**.", "256", "256", "128"),
    ("gpt4", "h_bold", "**Result:** {A} marbles were left in the jar.", "17", "17", "71"),
    ("gpt4", "h_list", "To summarize:\n- First step: 5 apples\n- Second step: 8 apples\n- Total: {A} apples", "13", "13", "8"),
    ("gpt4", "h_when", "The function attains its maximum of {A} at $x = 3$.", "10", "10", "3"),
    ("gpt4", "h_when", "The least value of $n$ is {A}, because for $n = 6$ the sum exceeds 100.", "7", "7", "6"),
    ("gpt4", "h_when", "So the maximum possible area is ${A}$, attained when the rectangle is a square of side $5$.", "25", "25", "5"),
    ("gpt4", "h_subject", "Thus {A} different committees can be formed from the 10 members.", "210", "210", "10"),
    ("gpt4", "h_subject", "Consequently, there are exactly {A} lattice points inside the circle of radius 3.", "29", "29", "28"),
    ("gpt4", "h_subject", "So Maria needs {A} more dollars to buy the 3 books.", "14", "14", "3"),
    ("gpt4", "h_chain", "This gives $V = \\frac{4}{3}\\pi (3)^3 = {A}\\pi$.", "36\\pi", "36", "27"),
    ("gpt4", "h_chain", "Summing, 120 + 45 + 35 = {A} students in total.", "200", "200", "199"),
    ("gpt4", "h_chain", "So $P(\\text{at least one}) = 1 - \\left(\\frac{5}{6}\\right)^2 = \\frac{{A}}{36}$.", "\\frac{11}{36}", "11", "25"),
    ("gpt4", "h_align", "Therefore,\n\\begin{align*}\nT &= 2\\cdot 15 + 3 \\cdot 4 \\\\\n  &= 30 + 12 \\\\\n  &= {A}.\n\\end{align*}", "42", "42", "40"),
    ("gpt4", "h_align", "\\[\\begin{aligned} a_5 &= a_4 + a_3 \\\\ &= 5 + 3 \\\\ &= {A} \\end{aligned}\\]", "8", "8", "5"),
    ("gpt4", "h_approx", "The probability is $\\frac{{A}}{21} \\approx 0.048$.", "\\frac{1}{21}", "1", "2"),
    ("gpt4", "h_approx", "So the side length is $2\\sqrt{{A}} \\approx 4.47$ units.", "2\\sqrt{5}", "5", "6"),
    ("gpt4", "h_tuple", "The point of intersection is therefore $x = {A}$, $y = 7$.", "(3, 7)", "3", "7"),
    ("gpt4", "h_tuple", "Solving the system gives $a = {A}$ and $b = 2$.", "(-1, 2)", "-1", "1"),
    ("gpt4", "h_set", "The solutions are $x = {A}$, $x = 0$ and $x = 2$.", "-2, 0, 2", "-2", "-1"),
    ("gpt4", "h_percent", "That is an increase of {A}\\%.", "20", "20", "25"),
    ("gpt4", "h_money", "In total, Tom spent $\\${A}$ on the trip.", "1200", "1,200", "1,020"),
    ("gpt4", "h_remark", "Hence the answer is {A}.\n\nI hope this helps! Let me know if you have any other questions about step 2.", "64", "64", "2"),
    ("gpt4", "h_remark", "So the perimeter is {A} cm. (Note that each side is 4 cm.)", "16", "16", "4"),
    ("gpt4", "h_changed", "It is tempting to say 15, but the correct count is {A} because the corner is shared.", "14", "14", "15"),
    ("gpt4", "h_changed", "My first attempt gave 48, which is wrong. Recomputing carefully, the number of paths is {A}.", "35", "35", "48"),
    ("gpt4", "h_structure", "Thus the solution set is $({A}, 3]$.", "(-2, 3]", "-2", "2"),
    ("gpt4", "h_structure", "The inverse matrix is $\\begin{pmatrix} 2 & -1 \\\\ -5 & {A} \\end{pmatrix}$.", "\\begin{pmatrix} 2 & -1 \\\\ -5 & 3 \\end{pmatrix}", "3", "-3"),
    ("gpt4", "h_structure", "So the general term is $a_n = {A} \\cdot 2^{n-1}$.", "3 \\cdot 2^{n-1}", "3", "2"),
    ("r1", "h_r1", "<think>\nThe perimeter: 2*(7+5)=24.\n</think>\n\nThe rectangle's perimeter is $2(7 + 5) = {A}$.", "24", "24", "35"),
    ("r1", "h_r1", "<think>\n9 choose 2 = 36\n</think>\n\nThere are {A} ways to pick the pair.\n\n**Final Answer**\nThe number of ways is {A}.", "36", "36", "72"),
    ("r1", "h_r1", "<think>\nhmm 2^8 = 256, minus 1 = 255\n</think>\n\nSo the answer should be 255 — wait, the empty set is allowed, so it is {A}.", "256", "256", "255"),
    ("r1", "h_r1", "<think>\nok so the remainder is 4\n</think>\n\n**Answer: {A}**", "4", "4", "3"),
    ("r1", "h_r1", "<think>\nsum of digits of 2^10 = 1024 -> 7\n</think>\n\nSince $2^{10} = 1024$, the digit sum is $1 + 0 + 2 + 4 = {A}$.", "7", "7", "8"),
    ("r1", "h_r1", "<think>\nx=3 works.\n</think>\n\nChecking $x = {A}$: $2(3) + 1 = 7$ ✓. So $x = {A}$.", "3", "3", "4"),
    ("gpt4", "h_none", "Unfortunately, the problem statement seems to be missing the value of the 2nd angle, so it cannot be solved.", "45", None, None),
    ("gpt4", "h_text", "Therefore, the triangle is \\textbf{obtuse}... more precisely, the answer is $\\text{{A}}$.", "\\text{obtuse}", "obtuse", "acute"),
]


def render(text, answer):
    # Templates use `{A}` only; every other brace is LaTeX's.
    return text.replace("{A}", answer)


def cases(endings):
    out = []
    for n, (style, cls, text, gold, right, wrong, *rest) in enumerate(endings):
        right_expected = rest[0] if rest else True
        if right is None:
            out.append({"id": f"{n:03d}-none", "style": style, "class": cls,
                        "completion": text, "gold": gold, "expected": False})
            continue
        out.append({"id": f"{n:03d}-right", "style": style, "class": cls,
                    "completion": render(text, right), "gold": gold, "expected": right_expected})
        out.append({"id": f"{n:03d}-wrong", "style": style, "class": cls,
                    "completion": render(text, wrong), "gold": gold, "expected": False})
    return out


def main():
    write("math_prose_cases.jsonl", cases(ENDINGS))
    write("math_prose_holdout_cases.jsonl", cases(HOLDOUT))


def write(name, out):
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name)
    with open(path, "w") as f:
        for case in out:
            f.write(json.dumps(case, ensure_ascii=False) + "\n")
    print(f"{len(out)} cases written to {path}")


if __name__ == "__main__":
    main()
