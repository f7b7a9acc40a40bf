#!/usr/bin/env python3
"""gen_corpus.py: writes tests/sentiment/corpus.txt, the call-center lines the
sentiment compatibility test scores with earshot and with vader-sentiment.

    python3 tests/sentiment/gen_corpus.py [--lines 4000] [--seed 2014] [--out PATH]

Deterministic (one seeded PRNG): the same flags write the same file. The
lines are made from templates: customers heating up (exasperation, churn,
legal and manager demands, shouting in capitals and with "!!!"), agents
(empathy, apologies, solutions, and the phrases they should not use), calm
and neutral turns, in three renderings: punctuated mixed case, speech-to-text
style (lower case, no punctuation, fillers, run-ons), and shouting. Negations
("not", "never", "isn't", "don't"), "but" clauses, boosters ("so", "really",
"kind of"), "at least", curly apostrophes, names with accents and the odd
emoji are all present, because they are what the rules handle.
"""
import argparse
import random

NAMES = ["Maria", "John", "Priya", "Ahmed", "Zoë", "José", "Siobhán", "Chen", "Olga", "Kwame",
         "Dana", "Luis", "Björn", "Amélie", "Tom", "Fatima", "Grace", "Noah"]
PRODUCTS = ["internet", "broadband", "phone", "bill", "account", "router", "package", "order",
            "refund", "subscription", "card", "delivery", "plan", "service", "app", "TV box",
            "contract", "claim", "payment", "modem"]
TIMES = ["three times", "twice", "all week", "since Monday", "for two hours", "every day",
         "for a month", "yesterday", "this morning", "five times now", "again"]
FILLERS = ["um", "uh", "like", "you know", "i mean", "so", "well", "okay", "right", "look"]

CUSTOMER_ANGRY = [
    "This is ridiculous, I have called {times} about my {product}.",
    "I am so frustrated with your {product}.",
    "This is absolutely unacceptable.",
    "I'm fed up with this terrible service.",
    "You people are useless.",
    "What a waste of my time!",
    "I want to speak to a manager right now.",
    "Put me through to your supervisor.",
    "I'm going to cancel my {product} today.",
    "I will never buy anything from you again.",
    "I'm switching to a competitor, this is the worst company ever.",
    "I'll be talking to my lawyer about this.",
    "I'm going to sue you for this mess.",
    "I will leave a bad review and tell everyone.",
    "Nobody here knows what they are doing.",
    "Why is my {product} still broken?",
    "Are you kidding me?",
    "This is the third time I've called and nothing has changed.",
    "I'm not happy at all.",
    "Your {product} is a disaster.",
    "I've been on hold {times}, this is insane.",
    "I'm really angry about the {product}.",
    "Stop lying to me.",
    "That's a stupid policy.",
    "I hate this company.",
    "This is a joke.",
    "You charged me twice and I'm furious.",
    "I am sick and tired of this.",
    "It doesn't work, it never works.",
    "I don't trust you anymore.",
    "Nothing you said helped.",
    "I can't believe how bad this is.",
    "This isn't good enough.",
    "You are wrong and you know it.",
    "Honestly this is pathetic.",
    "My {product} is broken and nobody cares.",
    "I'm disappointed and annoyed.",
    "I feel cheated.",
    "That's a terrible excuse.",
    "Don't tell me to calm down.",
    "I'm upset, I've lost a whole day of work.",
    "What kind of service is this?",
    "It's kind of a mess, to be honest.",
    "It's not the worst, but it's close.",
    "This is the worst experience I've ever had.",
    "I'm sorry but this is not acceptable.",
    "I was hoping for help, but you just made it worse.",
    "Yeah right, like that's going to happen.",
    "That's the kiss of death for my business.",
]

CUSTOMER_CALM = [
    "Hi, I'm calling about my {product}.",
    "My {product} stopped working {times}.",
    "Can you check my account please?",
    "The reference number is 4 5 7 2.",
    "I moved house last month.",
    "It's about the {product} I ordered.",
    "Okay, that makes sense.",
    "Sure, go ahead.",
    "Yes, that's right.",
    "No, that's not my address.",
    "Could you repeat that?",
    "I'll wait.",
    "Alright, thank you.",
    "Thanks, that's really helpful.",
    "Great, that works for me.",
    "Perfect, thank you so much.",
    "I appreciate your help.",
    "That's good to hear.",
    "Oh, that's a relief.",
    "Brilliant, thanks a lot.",
    "Okay, I'll try restarting the {product}.",
    "I guess that's fine.",
    "At least it works now.",
    "Not bad, thank you.",
    "It's not a big problem.",
    "I'm not angry, just confused.",
    "It was kind of slow but it's okay now.",
    "You've been very helpful, thank you.",
    "That's wonderful, thanks {name}.",
    "I'm happy with that solution.",
    "Fine, let's do that.",
    "Could I get a refund instead?",
    "Would a credit be possible?",
    "What are my options?",
]

AGENT_GOOD = [
    "Thank you for calling, my name is {name}, how can I help?",
    "I'm so sorry to hear that.",
    "I totally understand how frustrating this is.",
    "I can hear how frustrating this has been for you.",
    "I'm really sorry you had this experience.",
    "Let me see what options we have.",
    "Here's what I can do for you.",
    "I'll resolve this for you right now.",
    "I'd be happy to help with your {product}.",
    "Thank you for your patience.",
    "Thanks for bearing with me.",
    "I apologize for the inconvenience.",
    "Let me find out for you.",
    "Would you prefer a refund or store credit?",
    "So the core issue is the {product}, is that right?",
    "What I'm hearing is that your {product} fails {times}.",
    "I've fixed it and added a credit to your account.",
    "Great news, the {product} is working again.",
    "Have I fully addressed your concerns today?",
    "Is there anything else I can help with?",
    "I appreciate you raising this with us.",
    "You're welcome, have a wonderful day.",
    "That's a fair point, and I'm sorry.",
    "Absolutely, I can do that.",
    "Don't worry, I'll stay with you until it's sorted.",
    "I understand, and I won't let this happen again.",
    "It's not your fault at all.",
    "I'm glad we could sort it out.",
]

AGENT_BAD = [
    "Calm down please.",
    "Relax, it's not a big deal.",
    "That's our policy.",
    "There's nothing I can do.",
    "That's not my department.",
    "I don't know.",
    "It's not my fault, the system is broken.",
    "You didn't follow the instructions.",
    "You're wrong about that.",
    "We would never do that.",
    "I can't help you with that.",
    "That's just how it is.",
    "Sorry, but there's no way to fix it today.",
    "I understand your frustration, but it's company policy.",
]

NEUTRAL = [
    "Can I have your postcode please?",
    "Let me pull up your account.",
    "One moment while I check.",
    "I'm putting you on a short hold.",
    "Your order number is 8 8 3 1.",
    "The technician will arrive between 8 and 12.",
    "Is this the number on the account?",
    "Can you confirm your date of birth?",
    "I'm transferring you to billing now.",
    "The {product} was shipped on Tuesday.",
    "I see two payments on the {product}.",
    "Please restart the {product} and wait two minutes.",
    "The line is being tested now.",
    "It says here the {product} was activated in May.",
]

OPENERS = ["", "", "", "Look, ", "Honestly, ", "Listen, ", "Okay, ", "Well, ", "So ", "Seriously, ",
           "{name}, ", "Sorry, "]
BOOSTERS = ["really", "so", "very", "extremely", "totally", "absolutely", "kind of", "sort of",
            "a little", "slightly", "incredibly", "pretty"]
ADJ_NEG = ["bad", "terrible", "awful", "horrible", "useless", "ridiculous", "unacceptable",
           "frustrating", "annoying", "disappointing", "stupid", "pathetic", "slow", "broken"]
ADJ_POS = ["good", "great", "helpful", "fine", "excellent", "amazing", "nice", "fantastic",
           "wonderful", "easy", "quick", "brilliant", "perfect", "happy"]


def fill(rng, t):
    return t.format(name=rng.choice(NAMES), product=rng.choice(PRODUCTS), times=rng.choice(TIMES))


def composed(rng):
    """A sentence built from parts: negations, boosters, but-clauses."""
    product = rng.choice(PRODUCTS)
    kind = rng.randrange(9)
    if kind == 0:
        return f"the {product} is {rng.choice(BOOSTERS)} {rng.choice(ADJ_NEG)}"
    if kind == 1:
        return f"your {product} is not {rng.choice(ADJ_POS)}"
    if kind == 2:
        return (f"the agent was {rng.choice(ADJ_POS)} but the {product} is still "
                f"{rng.choice(ADJ_NEG)}")
    if kind == 3:
        return f"it isn't {rng.choice(BOOSTERS)} {rng.choice(ADJ_NEG)}, it's just {rng.choice(ADJ_NEG)}"
    if kind == 4:
        return f"i have never been so {rng.choice(['angry', 'happy', 'disappointed', 'pleased'])}"
    if kind == 5:
        return f"at least the {product} is {rng.choice(ADJ_POS)} now"
    if kind == 6:
        return f"i don't think the {product} is {rng.choice(ADJ_POS)} at all"
    if kind == 7:
        return f"the {product} was {rng.choice(ADJ_POS)} but now it's {rng.choice(ADJ_NEG)}"
    return f"thanks but the {product} is {rng.choice(BOOSTERS)} {rng.choice(ADJ_POS)}"


def asr(rng, s):
    """Speech-to-text style: lower case, no punctuation, fillers."""
    out = []
    for w in s.replace(",", " ").replace(".", " ").replace("!", " ").replace("?", " ").split():
        if rng.random() < 0.08:
            out.append(rng.choice(FILLERS))
        out.append(w.lower())
    s = " ".join(out)
    if rng.random() < 0.15:
        s = s.replace("'", "")            # "dont", "isnt"
    elif rng.random() < 0.15:
        s = s.replace("'", "\u2019")      # curly apostrophes
    return s


def shout(rng, s):
    """Capitals on some words, and exclamation or question marks."""
    words = s.split()
    mode = rng.randrange(3)
    if mode == 0:
        words = [w.upper() if rng.random() < 0.4 else w for w in words]
    elif mode == 1:
        words = [w.upper() for w in words]
    else:
        i = rng.randrange(len(words))
        words[i] = words[i].upper()
    s = " ".join(words).rstrip(".!?")
    return s + rng.choice(["!", "!!", "!!!", "!!!!", "?!", "???", "!?!", "!!!!!!"])


def one_line(rng):
    r = rng.random()
    if r < 0.30:
        base = fill(rng, rng.choice(CUSTOMER_ANGRY))
    elif r < 0.45:
        base = fill(rng, rng.choice(CUSTOMER_CALM))
    elif r < 0.62:
        base = fill(rng, rng.choice(AGENT_GOOD))
    elif r < 0.70:
        base = fill(rng, rng.choice(AGENT_BAD))
    elif r < 0.80:
        base = fill(rng, rng.choice(NEUTRAL))
    else:
        base = composed(rng)
        base = base[0].upper() + base[1:] + rng.choice([".", "!", "", "?"])
    if rng.random() < 0.12:
        base = fill(rng, rng.choice(OPENERS)) + base[0].lower() + base[1:]
    if rng.random() < 0.10:
        # Two sentences in one turn, or a run-on.
        second = fill(rng, rng.choice(CUSTOMER_ANGRY + CUSTOMER_CALM + AGENT_GOOD))
        base = base + " " + second
    if rng.random() < 0.03:
        base = base + " " + rng.choice([":)", ":(", "\U0001F620", "\U0001F44D", ":-/", "<3"])
    style = rng.random()
    if style < 0.40:
        return asr(rng, base)
    if style < 0.52:
        return shout(rng, base)
    return base


def long_line(rng):
    """A long complaint of 6 to 14 clauses, as one ASR line or punctuated."""
    parts = [fill(rng, rng.choice(CUSTOMER_ANGRY + CUSTOMER_CALM)) for _ in range(rng.randrange(6, 15))]
    s = " ".join(parts)
    return asr(rng, s) if rng.random() < 0.5 else s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=2014)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    lines = []
    for _ in range(a.lines):
        s = long_line(rng) if rng.random() < 0.03 else one_line(rng)
        s = " ".join(s.split()) if rng.random() < 0.9 else s  # keep some odd spacing
        assert "\n" not in s and "\r" not in s
        lines.append(s)
    out = a.out or __file__.rsplit("/", 1)[0] + "/corpus.txt"
    with open(out, "w", encoding="utf-8") as f:
        for s in lines:
            f.write(s + "\n")
    print(f"gen_corpus.py: {len(lines)} lines to {out}")


if __name__ == "__main__":
    main()
