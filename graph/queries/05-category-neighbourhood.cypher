:param category => 'Comedy';
:param limit => 25;

// The neighbourhood of a category: its $limit most liked items (by degree, the number of users
// whose edge to the item has a positive weight: dislikes are not popularity) and the other
// categories those items also belong to. Graph view shows
// the category, its items and their other categories; the table lists, per item, its degree and
// its other categories (Browser draws the IN_CATEGORY links between returned nodes itself).
MATCH (c:Category {name: $category})<-[:IN_CATEGORY]-(i:Item)
WITH c, i ORDER BY coalesce(i.degree, 0) DESC, i.id LIMIT $limit
OPTIONAL MATCH (i)-[:IN_CATEGORY]->(other:Category)
WHERE other <> c
WITH c, i, collect(other) AS others
RETURN c AS category, i AS item, coalesce(i.degree, 0) AS degree,
       [o IN others | o.name] AS other_categories, others
ORDER BY degree DESC, item.id;
