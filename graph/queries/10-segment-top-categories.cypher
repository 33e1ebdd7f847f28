:param top => 3;
:param min_size => 1;

// Behavioural segments (written by `graphrec segment`) and what each one is into: per segment, its size,
// the rule that named it and its $top categories, ranked by the summed weight of its members' liked
// edges (INTERACTED with weight > 0, undecayed) on items of the category. `shares` is each category's
// part of the segment's weight over all categories (an item in two categories counts for both);
// `members` how many of the segment's users reached the category. Segments smaller than $min_size
// (users) are left out; a segment whose members liked nothing has no row. Compare the rows to see
// whether, say, the deciders buy in other categories than the browsers browse.
// Runs unchanged on the embedded store (`graphrec cypher -f`).
MATCH (s:Segment)
WHERE s.size >= $min_size
MATCH (s)<-[:IN_SEGMENT]-(u:User)-[e:INTERACTED]->(:Item)-[:IN_CATEGORY]->(c:Category)
WHERE e.weight > 0
WITH s, c, sum(e.weight) AS weight, count(DISTINCT u) AS members
ORDER BY s.name, weight DESC, c.name
WITH s, collect({category: c.name, weight: weight, members: members}) AS ranked, sum(weight) AS total
RETURN s.name AS segment, s.size AS size, s.rule AS rule,
       [t IN ranked[..$top] | t.category] AS top_categories,
       [t IN ranked[..$top] | t.weight / total] AS shares,
       [t IN ranked[..$top] | t.members] AS members
ORDER BY size DESC, segment;
